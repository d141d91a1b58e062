/*
 * Writes the two vocabularies the tokenizer test compares with llama.cpp
 * (tests/workers/ai/model_writer.c, mw_vocab_gguf): DIR/space.gguf and
 * DIR/nospace.gguf, tok512's vocabulary with and without its standalone
 * space piece. Used by bench/ai/gen-tokenizer-cases.
 *
 * Usage: ai_write_vocab DIR
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "al_config.h"
#include "common/util.h"
#include "model_writer.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ai_write_vocab DIR\n");
		return 2;
	}
	for (int with = 0; with < 2; with++) {
		char path[4096];
		struct mw_buf b = { 0 };
		if (mw_vocab_gguf(&b, AL_SOURCE_ROOT "/models/stories260K.bin", AL_SOURCE_ROOT "/models/tok512.bin",
				  with))
			return 1;
		snprintf(path, sizeof(path), "%s/%s.gguf", argv[1], with ? "space" : "nospace");
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || al_write_all(fd, b.p, b.len)) {
			perror(path);
			return 1;
		}
		close(fd);
		mw_free(&b);
	}
	return 0;
}
