/*
 * Whether this test runs under user-mode emulation (a cross build's tests, run
 * by qemu: meson.build's 'emulated' test setup sets AL_EMULATED): NULL on a
 * real machine, else why the kernel it sees is not the program's own. A test
 * that needs namespaces, seccomp filters or the real /proc prints that and
 * skips.
 */
#ifndef AL_TEST_EMULATED_H
#define AL_TEST_EMULATED_H

const char *t_emulated(void);

#endif
