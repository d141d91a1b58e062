/*
 * airlock metrics: the running supervisor's figures in the Prometheus text
 * format, for node_exporter's textfile collector (docs/metrics.md).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "supervisor/control.h"

static const char metrics_usage[] =
	"usage: airlock metrics [--config FILE | --control PATH]\n"
	"\n"
	"Prints what the supervisor counts (domain restarts and usage, incidents by\n"
	"type, the level, seccomp and channel violations, integrity passes and\n"
	"their CPU cost, uptime) in the Prometheus text exposition format, from the\n"
	"control socket. The supervisor serves no HTTP: write the output to a file\n"
	"node_exporter's textfile collector reads (docs/metrics.md).\n"
	"\n"
	"  --config FILE   find the control socket in FILE\n"
	"  --control PATH  control socket\n";

static int metrics_run(int argc, char **argv)
{
	char control[256];
	int rc = al_cli_control_opts(&al_cmd_metrics, argc, argv, NULL, NULL, control, sizeof control);
	if (rc)
		return rc;
	json_t *r = NULL;
	if ((rc = al_cli_control_call(control, AL_CONTROL_METRICS, 0, "supervisor", &r)))
		return rc;
	const char *text = json_string_value(json_object_get(r, "text"));
	if (text)
		fputs(text, stdout);
	else
		fprintf(stderr, "airlock metrics: the supervisor sent no metrics\n");
	json_decref(r);
	return text ? AL_EXIT_OK : AL_EXIT_FAIL;
}

const struct al_cmd al_cmd_metrics = {
	.name = "metrics",
	.summary = "print the supervisor's metrics (Prometheus text format)",
	.usage = metrics_usage,
	.run = metrics_run,
};
