/*
 * The metrics parser: /proc/PID/stat and status are the kernel's, but a
 * domain chooses its comm (spaces, parentheses, digits). Input: stat text,
 * NUL, status text. The result feeds a detector, which must take any values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t sl = strlen(text);
	struct al_metrics m = {0};
	if (al_metrics_parse(text, sl < size ? text + sl + 1 : "", 100, &m) == 0) {
		struct al_detector d;
		struct al_incident inc[AL_DETECT_MAX_INCIDENTS];
		al_detector_init(&d, AL_DETECT_ROLE_SERVICE, NULL);
		for (int i = 0; i < 14; i++) {
			size_t n = al_detector_observe(&d, &m, 1000000000ULL, inc);
			for (size_t k = 0; k < n; k++)
				al_incident_clear(&inc[k]);
			m.cpu_ns *= 2;
			m.minflt += m.rss_kib;
		}
	}
	free(text);
	return 0;
}
