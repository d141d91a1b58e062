#!/usr/bin/env python3
"""Rules of the source tree that the compiler does not check.

  check_tree.py ROOT         checks the tree at ROOT; exit 1 and one line per
                             violation if any rule is broken
  check_tree.py --self-test  checks that every rule fires on a broken tree
                             and stays quiet on a clean one

Rules:
  supervisor-include  the supervisor's headers (#include "supervisor/...") are
                      its own and the CLI's: only src/supervisor, src/cli, and
                      the supervisor's tests and fuzzers include them.
  worker-fd           the worker contract (descriptor numbers, exit codes) is
                      defined once, in include/airlock/worker.h: no other file
                      #defines a name of its kind.
  worker-exit         the workers exit with enum al_worker_exit's names, not
                      with numbers (_exit, al_fatal, al_fatalx in src/workers).
  supervisor-size     no file in src/supervisor over MAX_LINES lines: the
                      supervisor is split by job (src/supervisor/sup_int.h).
"""
import os
import re
import sys
import tempfile

SCANNED = ('src', 'include', 'tests', 'fuzz', 'bench', 'tools')

SUPERVISOR_INCLUDERS = ('src/supervisor/', 'src/cli/', 'tests/supervisor/', 'fuzz/supervisor/')
SUPERVISOR_INCLUDE_EXEMPT = {
    # The overhead benchmark starts a real supervisor per security level in
    # a forked child (al_sup_run) from a configuration it writes and loads
    # (al_config_load): the one file outside the CLI that runs a supervisor.
    'bench/lib/targets.c',
}

CONTRACT = 'include/airlock/worker.h'
CONTRACT_NAME = re.compile(
    r'^\s*#\s*define\s+(\w*(?:_FD_CHANNEL|_FD_MODEL|_FD_TOKENIZER|_FD_LISTEN|_FD_TOKEN'
    r'|_FD_REPORT|EXIT_PEER))\b', re.M)
EXIT_LITERAL = re.compile(r'(?<!\w)(_exit|al_fatalx|al_fatal)\s*\(\s*([-+]?\s*(?:0[xX][0-9a-fA-F]+|\d+))\s*[,)]')
SUPERVISOR_INCLUDE = re.compile(r'^\s*#\s*include\s*"supervisor/[^"]*"', re.M)

MAX_LINES = 600
SIZE_EXEMPT = set()

COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', re.S)


def strip_comments(text, strings=False):
    """Comments blanked (newlines kept, so line numbers hold); string
    literals kept, or blanked too (their quotes kept) with strings=True."""
    def repl(m):
        s = m.group(0)
        if s.startswith('"'):
            return '"' + ' ' * (len(s) - 2) + '"' if strings else s
        return re.sub(r'[^\n]', ' ', s)
    return COMMENT.sub(repl, text)


def sources(root):
    for top in SCANNED:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(x for x in dirs if x not in ('node_modules', '.git') and
                             not x.startswith('build'))
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    p = os.path.join(d, f)
                    yield os.path.relpath(p, root).replace(os.sep, '/'), p


def line_of(text, pos):
    return text.count('\n', 0, pos) + 1


def check(root):
    bad = []
    for rel, path in sources(root):
        with open(path, encoding='utf-8', errors='replace') as fh:
            raw = fh.read()
        code = strip_comments(raw)
        bare = strip_comments(raw, strings=True)
        if not rel.startswith(SUPERVISOR_INCLUDERS) and rel not in SUPERVISOR_INCLUDE_EXEMPT:
            for m in SUPERVISOR_INCLUDE.finditer(code):
                bad.append(f'{rel}:{line_of(code, m.start())}: supervisor-include: '
                           f'{m.group(0).strip()} (only src/supervisor, src/cli and their tests)')
        if rel != CONTRACT:
            for m in CONTRACT_NAME.finditer(bare):
                bad.append(f'{rel}:{line_of(bare, m.start())}: worker-fd: #define {m.group(1)} '
                           f'(the worker contract is {CONTRACT})')
        if rel.startswith('src/workers/'):
            for m in EXIT_LITERAL.finditer(bare):
                bad.append(f'{rel}:{line_of(bare, m.start())}: worker-exit: {m.group(1)}({m.group(2)}, ...) '
                           f'(use enum al_worker_exit, {CONTRACT})')
        if rel.startswith('src/supervisor/') and rel not in SIZE_EXEMPT:
            n = raw.count('\n')
            if n > MAX_LINES:
                bad.append(f'{rel}: supervisor-size: {n} lines (at most {MAX_LINES}: split it by job)')
    return bad


def self_test():
    broken = {
        'src/mcp/x.c': '#include "supervisor/config.h"\n',
        'src/workers/proto/y.h': '#define MY_FD_LISTEN 3\n#define PROTO_EXIT_PEER 6\n',
        'src/workers/ai/z.c': 'void f(void) { _exit(6); }\nvoid g(void) { al_fatalx(2, "x"); }\n',
        'src/supervisor/big.c': 'int x;\n' * (MAX_LINES + 1),
    }
    expect = ['supervisor-include', 'worker-fd', 'worker-fd', 'worker-exit', 'worker-exit',
              'supervisor-size']
    clean = {
        'src/supervisor/config.c': 'int x;\n' * MAX_LINES,
        'src/cli/a.c': '#include "supervisor/config.h"\n',
        'tests/supervisor/b.c': '#include "supervisor/control.h"\n',
        CONTRACT: '#define AL_AI_FD_MODEL 4\n#define AL_WORKER_EXIT_PEER 6\n',
        'src/workers/ai/ok.c': ('/* _exit(2) is async-signal-safe; #define X_FD_TOKEN 5 */\n'
                                'void f(void) { _exit(AL_WORKER_EXIT_PEER); al_exit(3); }\n'
                                'void g(void) { al_fatal(AL_WORKER_EXIT_FAIL, "_exit(1)"); }\n'),
    }
    ok = True
    for files, want in ((broken, expect), (clean, [])):
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), 'w') as fh:
                    fh.write(text)
            got = sorted(line.split(': ')[1] for line in check(root))
            if got != sorted(want):
                print(f'self-test: expected {sorted(want)}, got {got}:', *check(root), sep='\n  ')
                ok = False
    print('self-test:', 'ok' if ok else 'FAILED')
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ['--self-test']:
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    bad = check(argv[1])
    for line in bad:
        print(line)
    print(f'check_tree: {len(bad)} violation(s)' if bad else 'check_tree: ok')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
