/*
 * The result of `airlock bench` as a table (every figure with its method,
 * each level next to the baseline, the seed's claims and our goals with a
 * verdict per level) and as an SVG chart of the total overhead per level,
 * its spread and the budgets. Both read only the JSON result, so a saved result can
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

/* A string member's text, "?" when it is missing or not a string (a saved result may be damaged). */
static const char *sval(const json_t *v)
{
	const char *t = json_string_value(v);
	return t ? t : "?";
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
	const char *label = sval(json_object_get(row, "label"));
	const char *unit = sval(json_object_get(row, "unit"));
	char head[64];
	snprintf(head, sizeof head, "%s (%s)", label, unit);
	json_t *err = json_object_get(row, "error");
	if (err) {
		fprintf(f, "  %-30s not measured: %s\n", head, sval(err));
		return;
	}
	const char *stat = sval(json_object_get(row, "stat"));
	json_t *values = json_object_get(row, "values"), *cost = json_object_get(row, "cost");
	const char *cu = sval(json_object_get(row, "cost_unit"));
	bool pct = strchr(cu, '%') != NULL, ratio = strcmp(cu, "x") == 0;
	char b[32];
	fmt_value(b, sizeof b, num(json_object_get(values, "baseline"), stat));
	fprintf(f, "  %-30s %10s", head, b);
	size_t i;
	json_t *lv;
	json_array_foreach(levels, i, lv) {
		const char *name = sval(lv);
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
		const char *who = sval(json_object_get(cl, "who"));
		char line[512];
		int off = snprintf(line, sizeof line, "      %s: %s ->", who, sval(json_object_get(cl, "text")));
		json_array_foreach(levels, i, lv) {
			const char *name = sval(lv);
			json_t *vd = json_object_get(json_object_get(json_object_get(row, "verdict"), name), who);
			if (vd && off < (int)sizeof line)
				off += snprintf(line + off, sizeof line - (size_t)off, " %s %s", name,
						strcmp(sval(vd), "pass") == 0 ? "pass" : "FAIL");
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
			json_t *pr = json_object_get(d, "pressure");
			if (io && pr)
				fprintf(f, " (I/O threads %s while the CPUs are contended, %s at the end, %lld switches "
					"since it started; budget %s)",
					json_string_value(json_object_get(io, "want")),
					json_is_string(json_object_get(pr, "error"))  ? "pressure unreadable: always"
					: json_is_true(json_object_get(io, "calm")) ? "calm"
										    : "contended",
					(long long)json_integer_value(json_object_get(pr, "switches")),
					json_string_value(json_object_get(d, "rt_budget")) ?: "?");
			else if (io)
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

/* The machine's other tasks during the load section's cells. */
static void print_others(FILE *f, const json_t *others)
{
	if (!others)
		return;
	const char *err = json_string_value(json_object_get(others, "error"));
	if (err) {
		fprintf(f, "  other tasks on the machine: not read (%s)\n", err);
		return;
	}
	fprintf(f, "  other tasks on the machine during the cells (CPU time, %% of one CPU; their slices are in the "
		   "tail percentiles of both endpoints):\n");
	size_t i, k;
	json_t *ld, *t;
	json_array_foreach(json_object_get(others, "loads"), i, ld) {
		fprintf(f, "    %lld gen %.2f %%", (long long)json_integer_value(json_object_get(ld, "generations")),
			json_real_value(json_object_get(ld, "cpu_pct")));
		json_array_foreach(json_object_get(ld, "top"), k, t)
			fprintf(f, "%s%s %.2f", k ? ", " : " (", json_string_value(json_object_get(t, "name")),
				json_real_value(json_object_get(t, "cpu_pct")));
		fprintf(f, "%s\n", json_array_size(json_object_get(ld, "top")) ? ")" : "");
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
		const char *name = sval(json_object_get(b, "level"));
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
		sval(json_object_get(r, "version")), (long long)json_integer_value(json_object_get(m, "cpus")),
		sval(json_object_get(m, "kernel")), sval(json_object_get(m, "clocksource")),
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
		const char *name = sval(lv);
		json_t *items = json_object_get(json_object_get(part, name), "ai"), *it;
		char line[600];
		int off = snprintf(line, sizeof line, "  %-9s", name);
		size_t k;
		json_array_foreach(items, k, it) {
			const char *st = sval(json_object_get(it, "state"));
			if (off < (int)sizeof line)
				off += snprintf(line + off, sizeof line - (size_t)off, " %s:%s",
						sval(json_object_get(it, "item")), st);
		}
		fprintf(f, "%s\n", line);
	}

	json_t *sections = json_object_get(r, "sections"), *sec;
	json_array_foreach(sections, i, sec) {
		fprintf(f, "\n== %s (baseline: %s)\n", sval(json_object_get(sec, "title")),
			sval(json_object_get(sec, "baseline")));
		fprintf(f, "  %-30s %10s", "", "baseline");
		size_t k;
		json_array_foreach(levels, k, lv)
			fprintf(f, " %19s", sval(lv));
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
		print_others(f, json_object_get(sec, "others"));
		char meth[1600];
		snprintf(meth, sizeof meth, "method: %s", sval(json_object_get(sec, "method")));
		wrap(f, "    ", meth, 100);
	}

	/* no budgets without the total section (--only) */
	bool have_total = false;
	json_array_foreach(sections, i, sec)
		have_total |= strcmp(sval(json_object_get(sec, "id")), "total") == 0;
	if (have_total)
		print_budgets(f, json_object_get(r, "budgets"));
	json_t *warnings = json_object_get(r, "warnings"), *w;
	if (json_array_size(warnings)) {
		fprintf(f, "\nwarnings (the effect is smaller than the spread: rerun on a quieter machine):\n");
		json_array_foreach(warnings, i, w)
			wrap(f, "  ", sval(w), 100);
	}
}

/* The total's paired rounds at a level (sections[id=total].rows[0].cost.LEVEL.paired):
 * true and their quartiles, or false when that level has none. */
static bool total_quartiles(const json_t *r, const char *level, double *p25, double *p75)
{
	size_t i;
	json_t *sec;
	json_array_foreach(json_object_get(r, "sections"), i, sec) {
		const char *id = json_string_value(json_object_get(sec, "id"));
		if (!id || strcmp(id, "total") != 0)
			continue;
		json_t *row = json_array_get(json_object_get(sec, "rows"), 0);
		json_t *paired = json_object_get(json_object_get(json_object_get(row, "cost"), level), "paired");
		*p25 = num(paired, "p25");
		*p75 = num(paired, "p75");
		return !isnan(*p25) && !isnan(*p75);
	}
	return false;
}

/* text made safe for an XML attribute or element (a saved result may come from anywhere) */
static const char *xml_safe(const char *in, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = in ? in : "?"; *p && o + 7 < len; p++) {
		const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '"' ? "&quot;" : NULL;
		if (e) {
			memcpy(out + o, e, strlen(e));
			o += strlen(e);
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return out;
}

/* A round step for about six ticks over span (1, 2, 2.5 or 5 times a power of ten). */
static double tick_step(double span)
{
	double raw = span / 6, p = pow(10, floor(log10(raw)));
	const double m[] = { 1, 2, 2.5, 5, 10 };
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (raw <= m[i] * p)
			return m[i] * p;
	return 10 * p;
}

/*
 * Total overhead per level (end-to-end generate), drawn so noise shows as
 * noise: a bar from zero to the level's cost (up for a cost, down below the
 * zero line for a gain), an error bar over the middle half of its paired
 * rounds (25th to 75th percentile of the per-round costs; none where the
 * level has no paired rounds), and each level's budgets as horizontal lines
 * across its column: ours solid, the seed's dashed. The axis spans every
 * figure drawn. Elements carry a class and data-level / data-value, so the
 * picture can be checked by reading it (tests/bench/svg_check.py).
 */
int al_bench_write_svg(const json_t *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	json_t *budgets = json_object_get(r, "budgets"), *b;
	size_t n = json_array_size(budgets), i;
	const double W = 600, H = 340, left = 60, right = 20, top = 40, bottom = 280;
	const char *keys[] = { "budget_pct", "seed_budget_pct" }, *kind[] = { "goal", "seed" };
	const char *colors[] = { "#036", "#a60" }, *dash[] = { "none", "5 3" };

	/* the axis: zero, every cost, spread and budget */
	double lo = 0, hi = 0;
	json_array_foreach(budgets, i, b) {
		const char *level = json_string_value(json_object_get(b, "level"));
		double v = num(b, "overhead_pct"), q25, q75;
		if (!isnan(v)) {
			lo = fmin(lo, v);
			hi = fmax(hi, v);
		}
		if (level && total_quartiles(r, level, &q25, &q75)) {
			lo = fmin(lo, q25);
			hi = fmax(hi, q75);
		}
		for (int k = 0; k < 2; k++)
			if (!isnan(num(b, keys[k])))
				hi = fmax(hi, num(b, keys[k]));
	}
	if (hi - lo < 1)
		hi = lo + 1;
	double step = tick_step(hi - lo);
	lo = floor(lo / step) * step;
	hi = ceil(hi / step) * step;
#define Y(v) (bottom - (bottom - top) * ((v) - lo) / (hi - lo))

	double bw = (W - left - right) / (double)(n ? n : 1);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
		   "font-size=\"12\">\n", W, H);
	fprintf(f, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">airlock bench: total overhead per level "
		   "(end-to-end generate)</text>\n", left);
	for (int t = 0; lo + t * step <= hi + step / 1000; t++) {
		double v = lo + t * step, y = Y(v);
		if (fabs(v) < step / 1000)
			v = 0; /* no "-0" */
		fprintf(f, "<line class=\"tick\" data-value=\"%g\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.2f\" y2=\"%.2f\" "
			   "stroke=\"#ddd\"/><text class=\"tick-label\" x=\"%.0f\" y=\"%.2f\" text-anchor=\"end\">%g %%</text>\n",
			v, left, W - right, y, y, left - 6, y + 4, v);
	}
	fprintf(f, "<line class=\"zero\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.2f\" y2=\"%.2f\" stroke=\"#000\"/>\n", left,
		W - right, Y(0), Y(0));
	json_array_foreach(budgets, i, b) {
		char level_buf[64];
		const char *level_name = json_string_value(json_object_get(b, "level"));
		const char *level = xml_safe(level_name, level_buf, sizeof level_buf);
		double v = num(b, "overhead_pct"), x0 = left + bw * (double)i, x = x0 + bw * 0.25, w = bw * 0.5;
		fprintf(f, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", x + w / 2, bottom + 18,
			level);
		if (isnan(v)) {
			fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">not measured</text>\n", x + w / 2,
				Y(0) - 4);
			continue;
		}
		bool pass = !json_object_get(b, "pass") || json_is_true(json_object_get(b, "pass"));
		bool noisy = json_is_true(json_object_get(b, "noisy"));
		double y0 = Y(0), yv = Y(v);
		fprintf(f, "<rect class=\"bar\" data-level=\"%s\" data-value=\"%g\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
			   "height=\"%.2f\" fill=\"%s\"%s/>\n", level, v, x, fmin(y0, yv), w, fabs(y0 - yv),
			pass ? "#4a8" : "#c44", noisy ? " fill-opacity=\"0.45\"" : "");
		double q25, q75, cx = x + w / 2, ytext = fmin(y0, yv) - 4;
		if (level_name && total_quartiles(r, level_name, &q25, &q75)) {
			fprintf(f, "<line class=\"spread\" data-level=\"%s\" data-p25=\"%g\" data-p75=\"%g\" x1=\"%.2f\" "
				   "x2=\"%.2f\" y1=\"%.2f\" y2=\"%.2f\" stroke=\"#222\" stroke-width=\"1.5\"/>\n",
				level, q25, q75, cx, cx, Y(q75), Y(q25));
			for (int k = 0; k < 2; k++)
				fprintf(f, "<line class=\"spread-cap\" data-level=\"%s\" x1=\"%.2f\" x2=\"%.2f\" y1=\"%.2f\" "
					   "y2=\"%.2f\" stroke=\"#222\" stroke-width=\"1.5\"/>\n", level, cx - 6, cx + 6,
					Y(k ? q25 : q75), Y(k ? q25 : q75));
			ytext = fmin(ytext, Y(q75) - 4);
		}
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%+.2f %%%s</text>\n", cx, ytext, v,
			noisy ? " (noise)" : "");
		for (int k = 0; k < 2; k++) {
			double bv = num(b, keys[k]);
			if (isnan(bv))
				continue;
			fprintf(f, "<line class=\"budget budget-%s\" data-level=\"%s\" data-value=\"%g\" x1=\"%.2f\" "
				   "x2=\"%.2f\" y1=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\" "
				   "stroke-dasharray=\"%s\"/>\n", kind[k], level, bv, x0 + 4, x0 + bw - 4, Y(bv), Y(bv),
				colors[k], dash[k]);
		}
	}
#undef Y
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">bar: median of the paired rounds; whisker: their middle half "
		   "(25th-75th percentile)</text>\n", left, H - 22);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">solid line: our budget (1/3/8 %%); dashed: the seed's (3/8/15 %%); "
		   "pale bar: within the noise</text>\n", left, H - 6);
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : -errno;
}
