/* Code execution and CPU state: speculation controls, MDWE, executable
 * memory, exec from a memfd, exec of a shell. */
#include "probe.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif

extern char **environ;

/* Turns speculation off, then tries to turn it back on. A domain whose
 * control was force-disabled gets EPERM at the second step; anywhere else
 * both steps work, which is what an escape looks like. */
static int spec_reenable(unsigned long which, const char *label)
{
	int st = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);

	if (st < 0)
		return atk_unavailable(errno, "PR_GET_SPECULATION_CTRL(%s): %s", label, strerror(errno));
	if (!(st & PR_SPEC_PRCTL))
		return atk_unavailable(0, "%s speculation is not controllable per task here (state 0x%x)", label, st);
	atk_reached("prctl");
	prctl(PR_SET_SPECULATION_CTRL, which, PR_SPEC_DISABLE, 0, 0);
	if (prctl(PR_SET_SPECULATION_CTRL, which, PR_SPEC_ENABLE, 0, 0) < 0) {
		int e = errno;
		if (e == ENXIO)
			return atk_unavailable(e, "%s: control not offered (ENXIO)", label);
		return atk_failed(e, "PR_SET_SPECULATION_CTRL enable");
	}
	st = prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
	if (st >= 0 && (st & PR_SPEC_ENABLE))
		return atk_escaped("%s speculation re-enabled (state 0x%x)", label, st);
	return atk_blocked_as("NOCHANGE", "%s enable accepted but state reads 0x%x", label, st);
}

int atk_spec_ssb(int argc, char **argv)
{
	return spec_reenable(PR_SPEC_STORE_BYPASS, "store bypass");
}

int atk_spec_ib(int argc, char **argv)
{
	return spec_reenable(PR_SPEC_INDIRECT_BRANCH, "indirect branch");
}

int atk_mdwe_clear(int argc, char **argv)
{
	int before = prctl(PR_GET_MDWE, 0, 0, 0, 0);

	if (before < 0)
		return atk_unavailable(errno, "PR_GET_MDWE: %s (kernel older than 6.3)", strerror(errno));
	atk_reached("prctl");
	if (prctl(PR_SET_MDWE, 0, 0, 0, 0) < 0)
		return atk_failed(errno, "PR_SET_MDWE(0)");
	int after = prctl(PR_GET_MDWE, 0, 0, 0, 0);
	if (after == 0)
		return atk_escaped("MDWE is off (was 0x%x)", before);
	return atk_blocked_as("NOCHANGE", "PR_SET_MDWE(0) returned 0 but MDWE reads 0x%x", after);
}

#if defined(__aarch64__)
/* mov w0, #42; ret */
static const uint32_t ret42[] = { 0x52800540, 0xd65f03c0 };
#else
/* mov eax, 42; ret */
static const unsigned char ret42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };
#endif

static int run_code(void *mem, const char *how)
{
	int (*fn)(void) = (int (*)(void))mem;
	/* arm64 fetches instructions apart from data: make the written ones visible */
	__builtin___clear_cache((char *)mem, (char *)mem + sizeof(ret42));
	int r = fn();

	munmap(mem, 4096);
	if (r == 42)
		return atk_escaped("ran code written to %s", how);
	return atk_unexpected(0, "code in %s returned %d", how, r);
}

int atk_mprotect_exec(int argc, char **argv)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return atk_unexpected(errno, "mmap RW: %s", strerror(errno));
	memcpy(mem, ret42, sizeof(ret42));
	atk_reached("mprotect");
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC) < 0)
		return atk_failed(errno, "mprotect RW->RX");
	return run_code(mem, "RW memory made RX");
}

int atk_mmap_exec(int argc, char **argv)
{
	atk_reached("mmap");
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return atk_failed(errno, "mmap anonymous RWX");
	memcpy(mem, ret42, sizeof(ret42));
	return run_code(mem, "anonymous RWX memory");
}

/* Code written into a memfd, then mapped from it R+X: no mapping is ever
 * writable and executable, so MDWE has nothing to refuse, and the memfd's
 * internal mount is never noexec. */
int atk_memfd_mmap_exec(int argc, char **argv)
{
	atk_reached("memfd_create");
	int fd = (int)syscall(SYS_memfd_create, "airlock-attack", MFD_CLOEXEC);

	if (fd < 0)
		return atk_failed(errno, "memfd_create");
	if (write(fd, ret42, sizeof(ret42)) != (ssize_t)sizeof(ret42) || ftruncate(fd, 4096) < 0)
		return atk_unexpected(errno, "writing the code into the memfd failed");
	atk_reached("mmap");
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);

	close(fd);
	if (mem == MAP_FAILED)
		return atk_failed(errno, "mmap memfd R+X");
	return run_code(mem, "a memfd mapped R+X");
}

/* Shared anonymous memory mapped R+X, a second view of the same pages made
 * by mremap (old size 0) and turned RW: code written through the one runs
 * through the other. MDWE judges each call by the mapping it changes, and
 * none of these makes one both writable and executable. */
int atk_shared_alias_exec(int argc, char **argv)
{
	atk_reached("mmap");
	void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (x == MAP_FAILED)
		return atk_failed(errno, "mmap shared anonymous R+X");
	void *w = mremap(x, 0, 4096, MREMAP_MAYMOVE);

	if (w == MAP_FAILED)
		return atk_unexpected(errno, "mremap: a second view of the mapping: %s", strerror(errno));
	atk_reached("mprotect");
	if (mprotect(w, 4096, PROT_READ | PROT_WRITE) < 0)
		return atk_failed(errno, "mprotect the second view RW");
	memcpy(w, ret42, sizeof(ret42));
	munmap(w, 4096);
	return run_code(x, "shared anonymous memory through a second view");
}

/* A complete static ELF that prints the ESCAPED line and exits 0. */
static size_t tiny_elf(unsigned char *out, size_t cap)
{
	static const char msg[] =
		"AL-ATTACK name=memfd_exec verdict=ESCAPED errno=- detail=executed a program from a memfd\n";
	const uint64_t base = 0x400000;
	const size_t code_off = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
#if defined(__aarch64__)
	uint32_t code[] = {
		0xd2800808, /* mov x8, #64 (write) */
		0xd2800020, /* mov x0, #1 */
		0x100000c1, /* adr x1, msg (24 bytes on) */
		0xd2800002, /* mov x2, #len */
		0xd4000001, /* svc #0 */
		0xd2800bc8, /* mov x8, #94 (exit_group) */
		0xd2800000, /* mov x0, #0 */
		0xd4000001, /* svc #0 */
	};
	const uint16_t machine = EM_AARCH64;
	code[3] |= (uint32_t)(sizeof(msg) - 1) << 5;
#else
	unsigned char code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 (write) */
		0xbf, 0x01, 0x00, 0x00, 0x00,             /* mov edi, 1 */
		0x48, 0x8d, 0x35, 0x10, 0x00, 0x00, 0x00, /* lea rsi, [rip+16] -> msg */
		0xba, 0x00, 0x00, 0x00, 0x00,             /* mov edx, len */
		0x0f, 0x05,                               /* syscall */
		0xb8, 0xe7, 0x00, 0x00, 0x00,             /* mov eax, 231 (exit_group) */
		0x31, 0xff,                               /* xor edi, edi */
		0x0f, 0x05,                               /* syscall */
	};
	const uint16_t machine = EM_X86_64;
	code[18] = (unsigned char)(sizeof(msg) - 1);
#endif
	size_t total = code_off + sizeof(code) + sizeof(msg) - 1;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (total > cap)
		return 0;
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = machine;
	eh.e_version = EV_CURRENT;
	eh.e_entry = base + code_off;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_X;
	ph.p_vaddr = ph.p_paddr = base;
	ph.p_filesz = ph.p_memsz = total;
	ph.p_align = 0x1000;
	memcpy(out, &eh, sizeof(eh));
	memcpy(out + sizeof(eh), &ph, sizeof(ph));
	memcpy(out + code_off, code, sizeof(code));
	memcpy(out + code_off + sizeof(code), msg, sizeof(msg) - 1);
	return total;
}

int atk_memfd_exec(int argc, char **argv)
{
	unsigned char elf[512];
	size_t n = tiny_elf(elf, sizeof(elf));
	char *args[] = { "memfd-probe", NULL };
	int fd;

	atk_reached("memfd_create");
	fd = (int)syscall(SYS_memfd_create, "airlock-attack", MFD_CLOEXEC);
	if (fd < 0)
		return atk_failed(errno, "memfd_create");
	if (n == 0 || write(fd, elf, n) != (ssize_t)n)
		return atk_unexpected(errno, "writing the program into the memfd failed");
	atk_reached("execveat");
	syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
	return atk_failed(errno, "execveat(memfd)");
}

int atk_exec_sh(int argc, char **argv)
{
	char *args[] = { "sh", "-c",
		"echo 'AL-ATTACK name=exec_sh verdict=ESCAPED errno=- detail=/bin/sh ran'", NULL };

	atk_reached("execve");
	execve("/bin/sh", args, environ);
	return atk_failed(errno, "execve /bin/sh");
}
