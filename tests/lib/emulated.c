#include "emulated.h"

#include <stdlib.h>

const char *t_emulated(void)
{
	const char *why = getenv("AL_EMULATED");
	return why && *why ? why : NULL;
}
