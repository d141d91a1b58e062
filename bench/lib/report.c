/*
 * The result of `airlock bench` as a table (every figure with its method,
 * each level next to the baseline, the seed's claims and our goals with a
 * verdict per level) and as an SVG bar chart of the total overhead per level
 * against the budgets. Both read only the JSON result, so a saved result can
 * be printed again.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static double num(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Words of text on lines of at most width columns, each starting with indent. */
static void wrap(FILE *f, const char *indent, const char *text, int width)
{
	int col = 0;
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, " ");
		if (col && col + 1 + (int)n > width) {
			fputc('\n', f);
			col = 0;
		}
		if (!col) {
			fputs(indent, f);
			col = (int)strlen(indent);
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += (int)n;
		p += n;
		while (*p == ' ')
			p++;
	}
	if (col)
		fputc('\n', f);
}

static void fmt_value(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

static void print_row(FILE *f, const json_t *levels, const json_t *row)
{
	const char *label = json_string_value(json_object_get(row, "label"));
	const char *unit = json_string_value(json_object_get(row, "unit"));
	char head[64];
	snprintf(head, sizeof head, "%s (%s)", label, unit);
	json_t *err = json_object_get(row, "error");
	if (err) {
		fprintf(f, "  %-30s not measured: %s\n", head, json_string_value(err));
		return;
	}
	const char *stat = json_string_value(json_object_get(row, "stat"));
	json_t *values = json_object_get(row, "values"), *cost = json_object_get(row, "cost");
	const char *cu = json_string_value(json_object_get(row, "cost_unit"));
	bool pct = strchr(cu, '%') != NULL, ratio = strcmp(cu, "x") == 0;
	char b[32];
	fmt_value(b, sizeof b, num(json_object_get(values, "baseline"), stat));
	fprintf(f, "  %-30s %10s", head, b);
	size_t i;
	json_t *lv;
	json_array_foreach(levels, i, lv) {
		const char *name = json_string_value(lv);
		json_t *c = json_object_get(cost, name);
		char v[32], cell[64];
		fmt_value(v, sizeof v, num(json_object_get(values, name), stat));
		if (c && ratio) {
			snprintf(cell, sizeof cell, "%s %s%.2fx", v, json_is_true(json_object_get(c, "noisy")) ? "~" : "",
				 num(c, "value"));
		} else if (c) {
			double cv = num(c, "value");
			snprintf(cell, sizeof cell, "%s %s%+.*f%s", v, json_is_true(json_object_get(c, "noisy")) ? "~" : "",
				 fabs(cv) < 10 ? 2 : 0, cv, pct ? "%" : "");
		} else {
			snprintf(cell, sizeof cell, "%s", v);
		}
		fprintf(f, " %19s", cell);
	}
	fputc('\n', f);
	/* the claims, with the verdict at each level they apply to */
	json_t *claims = json_object_get(row, "claims"), *cl;
	size_t k;
	json_array_foreach(claims, k, cl) {
		const char *who = json_string_value(json_object_get(cl, "who"));
		char line[512];
		int off = snprintf(line, sizeof line, "      %s: %s ->", who, json_string_value(json_object_get(cl, "text")));
		json_array_foreach(levels, i, lv) {
			const char *name = json_string_value(lv);
			json_t *vd = json_object_get(json_object_get(json_object_get(row, "verdict"), name), who);
			if (vd && off < (int)sizeof line)
				off += snprintf(line + off, sizeof line - (size_t)off, " %s %s", name,
						strcmp(json_string_value(vd), "pass") == 0 ? "pass" : "FAIL");
		}
		fprintf(f, "%s\n", line);
	}
}

/* Each level's scheduling as its supervisor read it back after the measurement. */
static void print_sched(FILE *f, const json_t *levels, const json_t *sched)
{
	size_t i;
	json_t *lv;
	if (!json_is_object(sched))
		return;
	fprintf(f, "  scheduling in force (read back by each supervisor):\n");
	json_array_foreach(levels, i, lv) {
		json_t *l = json_object_get(sched, json_string_value(lv));
		if (!l)
			continue;
		fprintf(f, "    %-9s", json_string_value(lv));
		const char *dom;
		json_t *d;
		json_object_foreach(l, dom, d) {
			fprintf(f, " %s %s", dom, json_string_value(json_object_get(d, "class")) ?: "?");
			json_t *io = json_object_get(d, "io_threads");
			if (io)
				fprintf(f, " (I/O threads %s: %lld of %lld; budget %s)",
					json_string_value(json_object_get(io, "want")),
					(long long)json_integer_value(json_object_get(io, "set")),
					(long long)json_integer_value(json_object_get(io, "found")),
					json_string_value(json_object_get(d, "rt_budget")) ?: "?");
			fputc(';', f);
		}
		fputc('\n', f);
	}
}

/* A section's goals: one figure per endpoint, the verdict where the goal applies. */
static void print_goals(FILE *f, const json_t *levels, const json_t *goals)
{
	size_t i, k;
	json_t *g, *lv;
	if (!json_array_size(goals))
		return;
	fprintf(f, "  goals:\n");
	json_array_foreach(goals, i, g) {
		json_t *values = json_object_get(g, "values"), *verdict = json_object_get(g, "verdict");
		const char *unit = json_string_value(json_object_get(g, "unit"));
		bool ratio = strcmp(unit, "x") == 0;
		fprintf(f, "    %s (%s)\n     ", json_string_value(json_object_get(g, "text")), unit);
		const char *names[1 + 4] = { "baseline" };
		size_t n = 1;
		json_array_foreach(levels, k, lv)
			if (n < 5)
				names[n++] = json_string_value(lv);
		for (size_t j = 0; j < n; j++) {
			json_t *v = json_object_get(values, names[j]), *vd = json_object_get(verdict, names[j]);
			if (!v)
				continue;
			char fig[32];
			if (json_is_number(v))
				snprintf(fig, sizeof fig, ratio ? "%.2fx" : "%+.0f", json_number_value(v));
			else
				snprintf(fig, sizeof fig, "-");
			fprintf(f, " %s %s%s%s", names[j], fig, vd ? " " : "",
				vd ? (strcmp(json_string_value(vd), "pass") == 0 ? "pass" : "FAIL") : "");
			fputc(';', f);
		}
		fputc('\n', f);
	}
}

static void print_budgets(FILE *f, const json_t *budgets)
{
	size_t i;
	fprintf(f, "\n== Budgets: total overhead per level (end-to-end generate)\n");
	fprintf(f, "  %-9s %10s %8s | %6s %-7s | %6s %-7s | %s\n", "level", "overhead", "spread", "goal", "verdict",
		"seed", "verdict", "seed total < 5 %");
	json_t *b;
	json_array_foreach(budgets, i, b) {
		const char *name = json_string_value(json_object_get(b, "level"));
		if (json_object_get(b, "error")) {
			fprintf(f, "  %-9s not measured\n", name);
			continue;
		}
		char goal[16] = "-", seed[16] = "-";
		const char *gv = "-", *sv = "-";
		if (json_object_get(b, "budget_pct")) {
			snprintf(goal, sizeof goal, "%.0f %%", num(b, "budget_pct"));
			snprintf(seed, sizeof seed, "%.0f %%", num(b, "seed_budget_pct"));
			gv = json_is_true(json_object_get(b, "pass")) ? "pass" : "FAIL";
			sv = json_is_true(json_object_get(b, "seed_pass")) ? "pass" : "FAIL";
		}
		fprintf(f, "  %-9s %+9.2f%% %7.2f%% | %6s %-7s | %6s %-7s | %s%s\n", name, num(b, "overhead_pct"),
			num(b, "spread_pct"), goal, gv, seed, sv,
			json_is_true(json_object_get(b, "seed_total_pass")) ? "pass" : "FAIL",
			json_is_true(json_object_get(b, "noisy")) ? "  (within noise)" : "");
	}
}

void al_bench_print(const json_t *r, FILE *f)
{
	json_t *m = json_object_get(r, "machine"), *levels = json_object_get(r, "levels");
	json_t *load = json_object_get(m, "loadavg");
	fprintf(f, "airlock bench %s: %lld CPUs, Linux %s, clock source %s, load %.2f; %s run, %.0f s\n",
		json_string_value(json_object_get(r, "version")), (long long)json_integer_value(json_object_get(m, "cpus")),
		json_string_value(json_object_get(m, "kernel")), json_string_value(json_object_get(m, "clocksource")),
		json_number_value(json_array_get(load, 0)), json_is_true(json_object_get(r, "quick")) ? "quick" : "full",
		num(r, "duration_s"));
	fprintf(f, "Each cell: the level's figure, then its cost against the baseline (positive: airlock slower;\n"
		   "%% for rates and totals, else the row's unit; the median of per-round paired costs where rounds\n"
		   "exist); '~' marks a cost within the spread (noise).\n");

	/* what each level put in force here */
	json_t *part = json_object_get(r, "partitioning");
	size_t i;
	json_t *lv;
	fprintf(f, "\nPartitioning per level on this machine (AI domain; the protocol domain mirrors it):\n");
	json_array_foreach(levels, i, lv) {
		const char *name = json_string_value(lv);
		json_t *items = json_object_get(json_object_get(part, name), "ai"), *it;
		char line[600];
		int off = snprintf(line, sizeof line, "  %-9s", name);
		size_t k;
		json_array_foreach(items, k, it) {
			const char *st = json_string_value(json_object_get(it, "state"));
			if (off < (int)sizeof line)
				off += snprintf(line + off, sizeof line - (size_t)off, " %s:%s",
						json_string_value(json_object_get(it, "item")), st);
		}
		fprintf(f, "%s\n", line);
	}

	json_t *sections = json_object_get(r, "sections"), *sec;
	json_array_foreach(sections, i, sec) {
		fprintf(f, "\n== %s (baseline: %s)\n", json_string_value(json_object_get(sec, "title")),
			json_string_value(json_object_get(sec, "baseline")));
		fprintf(f, "  %-30s %10s", "", "baseline");
		size_t k;
		json_array_foreach(levels, k, lv)
			fprintf(f, " %19s", json_string_value(lv));
		fputc('\n', f);
		json_t *rows = json_object_get(sec, "rows"), *row;
		json_array_foreach(rows, k, row) {
			print_row(f, levels, row);
			json_t *ratio = json_object_get(row, "ratio_to_limit");
			if (json_is_number(ratio))
				fprintf(f, "      baseline round trip = %.1fx the core-to-core limit (%.0f ns)\n",
					json_number_value(ratio), num(sec, "core_to_core_ns"));
		}
		print_goals(f, levels, json_object_get(sec, "goals"));
		print_sched(f, levels, json_object_get(sec, "sched"));
		char meth[1600];
		snprintf(meth, sizeof meth, "method: %s", json_string_value(json_object_get(sec, "method")));
		wrap(f, "    ", meth, 100);
	}

	/* no budgets without the total section (--only) */
	bool have_total = false;
	json_array_foreach(sections, i, sec)
		have_total |= strcmp(json_string_value(json_object_get(sec, "id")), "total") == 0;
	if (have_total)
		print_budgets(f, json_object_get(r, "budgets"));
	json_t *warnings = json_object_get(r, "warnings"), *w;
	if (json_array_size(warnings)) {
		fprintf(f, "\nwarnings (the effect is smaller than the spread: rerun on a quieter machine):\n");
		json_array_foreach(warnings, i, w)
			wrap(f, "  ", json_string_value(w), 100);
	}
}

/* Bars: total overhead per level, with our budget and the seed's as marks. */
int al_bench_write_svg(const json_t *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	json_t *budgets = json_object_get(r, "budgets"), *b;
	size_t n = json_array_size(budgets), i;
	const double W = 560, H = 300, left = 60, bottom = 250, top = 40, scale_max = 16; /* % */
	double bw = (W - left - 20) / (double)(n ? n : 1);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
		   "font-size=\"12\">\n", W, H);
	fprintf(f, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">airlock bench: total overhead per level "
		   "(end-to-end generate)</text>\n", left);
	for (int t = 0; t <= 16; t += 4) {
		double y = bottom - (bottom - top) * t / scale_max;
		fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%d %%</text>\n",
			left, W - 20, y, y, left - 6, y + 4, t);
	}
	json_array_foreach(budgets, i, b) {
		double v = num(b, "overhead_pct"), x = left + bw * (double)i + bw * 0.2, w = bw * 0.6;
		double vv = isnan(v) ? 0 : fmax(0, fmin(v, scale_max));
		double y = bottom - (bottom - top) * vv / scale_max;
		bool pass = !json_object_get(b, "pass") || json_is_true(json_object_get(b, "pass"));
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, w,
			bottom - y, pass ? "#4a8" : "#c44");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%+.2f %%</text>\n", x + w / 2, y - 4, v);
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x + w / 2, bottom + 16,
			json_string_value(json_object_get(b, "level")));
		const char *keys[] = { "budget_pct", "seed_budget_pct" }, *colors[] = { "#036", "#a60" };
		for (int k = 0; k < 2; k++) {
			double bv = num(b, keys[k]);
			if (isnan(bv))
				continue;
			double by = bottom - (bottom - top) * fmin(bv, scale_max) / scale_max;
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
				   "stroke-dasharray=\"%s\"/>\n", x - 4, x + w + 4, by, by, colors[k], k ? "4 3" : "none");
		}
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">solid: our budget (1/3/8 %%); dashed: the seed's (3/8/15 %%)</text>\n",
		left, H - 12);
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : -errno;
}
