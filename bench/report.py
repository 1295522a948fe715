"""Tables, target ratios and the chart of a benchmark run (bench/run.py)."""

MiB = 1 << 20


def table(records):
    lines = ["| link | object | method | vineyardd compression | median s | GB/s (median) | GB/s (best) |",
             "| --- | --- | --- | --- | ---: | ---: | ---: |"]
    for r in records:
        lines.append("| %s | %s | %s | %s | %.4f | %.3f | %.3f |" % (
            r["link"], r["object"], r["method"], r["compression"], r["median_s"], r["gbps_median"], r["gbps_best"]))
    extras = [r for r in records if "jvm_start_and_first_call" in r or "heap_peak_bytes" in r]
    if extras:
        lines += ["", "| link | object | method | JVM start + first call s | JVM heap peak MiB |", "| --- | --- | --- | ---: | ---: |"]
        for r in extras:
            lines.append("| %s | %s | %s | %s | %s |" % (
                r["link"], r["object"], r["method"],
                "%.2f" % r["jvm_start_and_first_call"] if "jvm_start_and_first_call" in r else "-",
                "%.1f" % (r["heap_peak_bytes"] / MiB) if "heap_peak_bytes" in r else "-"))
    return "\n".join(lines)


def _find(records, link, obj, method, compression=None):
    for r in records:
        if r["link"] == link and r["object"] == obj and r["method"] == method and (
                compression is None or r["compression"] == compression):
            return r
    return None


def _vineyard_best(records, link, obj):
    """vineyard's own migration at its better setting (compression on or off)."""
    runs = [r for r in records if r["link"] == link and r["object"] == obj and r["method"] == "vineyard client.migrate"]
    return max(runs, key=lambda r: r["gbps_median"]) if runs else None


def ratios(records):
    """The issue's targets, as ratios of medians from this run."""
    rows = ["| target | measured | goal | met |", "| --- | ---: | ---: | :---: |"]
    cross = next((r["link"] for r in records if r["link"] != "same host"), None)

    def row(name, value, goal, met, fmt="%.2f"):
        rows.append("| %s | %s | %s | %s |" % (name, fmt % value if value is not None else "n/a", goal,
                                               "yes" if met else "NO"))

    local = _find(records, "same host", "1 GiB", "ours: shared memory")
    own = _vineyard_best(records, "same host", "1 GiB")
    copy = _find(records, "same host", "1 GiB", "memcpy")
    if local and own:
        value = local["gbps_median"] / own["gbps_median"]
        row("same host, 1 GiB: x vineyard's own", value, ">= 3", value >= 3)
    if local and copy:
        value = local["gbps_median"] / copy["gbps_median"]
        row("same host, 1 GiB: share of memcpy", value, ">= 0.40", value >= 0.4)
    if cross:
        tcp = _find(records, cross, "1 GiB", "ours: TCP agent")
        own = _vineyard_best(records, cross, "1 GiB")
        raw = _raw_tcp_best(records, cross, "1 GiB")
        if tcp and own:
            value = tcp["gbps_median"] / own["gbps_median"]
            row("across %s, 1 GiB: x vineyard's own" % cross, value, ">= 1.2", value >= 1.2)
        if tcp and raw:
            value = tcp["gbps_median"] / raw["gbps_median"]
            row("across %s, 1 GiB: share of raw TCP" % cross, value, ">= 0.70", value >= 0.7)
    blobs = next((r["object"] for r in records if r["object"].endswith("blobs")), None)
    if blobs:
        ours = _find(records, "same host", blobs, "ours: shared memory")
        own = _vineyard_best(records, "same host", blobs)
        if ours and own:
            value = own["median_s"] / ours["median_s"]
            row("same host, %s: x vineyard's own" % blobs, value, ">= 5", value >= 5)
    for method in ("ours: shared memory", "ours: shared memory, persist=False", "ours: shared memory, independent instances"):
        tiny = _find(records, "same host", "tiny", method)
        if tiny:
            label = method.split(", ", 1)[1] if ", " in method else "persisted in the etcd cluster"
            row("tiny object, warm JVM (%s): ms a call" % label, tiny["median_s"] * 1000, "< 5",
                tiny["median_s"] < 0.005)
    _issue9(records, cross, row)
    heaps = [r["heap_peak_bytes"] for r in records if "heap_peak_bytes" in r and r["object"] == "1 GiB"
             and r["method"].startswith("ours")]
    if heaps:
        row("JVM heap peak moving 1 GiB: MiB", max(heaps) / MiB, "< 64", max(heaps) < 64 * MiB, fmt="%.1f")
    return "\n".join(rows)


def _raw_tcp_best(records, link, obj):
    """Raw TCP at its better setting (one or four plain connections)."""
    runs = [r for r in records if r["link"] == link and r["object"] == obj and r["method"].startswith("raw TCP")]
    return max(runs, key=lambda r: r["gbps_median"]) if runs else None


def _issue9(records, cross, row):
    """Issue 9's targets (many objects, fast), where this run measured them."""
    def by_object(prefix, method, link="same host"):
        return next((r for r in records if r["link"] == link and r["object"].startswith(prefix)
                     and r["method"] == method), None)

    for persist, reference in ((False, "vineyard put"), (True, "vineyard put + persist")):
        ours = by_object("tiny, persist=%s" % persist, "ours")
        theirs = by_object("tiny, persist=%s" % persist, reference)
        if ours and theirs:
            value = ours["median_s"] / theirs["median_s"]
            row("tiny, warm, persist=%s: x %s" % (persist, reference), value, "<= 2", value <= 2)
    shm = by_object("1 MiB shared memory", "ours")
    if shm:
        row("1 MiB over shared memory, persist=False: ms", shm["median_s"] * 1000, "<= 1", shm["median_s"] <= 0.001)
    again = by_object("again", "ours")
    if again:
        row("%s: ms" % again["object"], again["median_s"] * 1000, "<= 5", again["median_s"] <= 0.005)
    many = by_object("1000 x 1 MiB migrate_many", "ours") or by_object("100 x 1 MiB migrate_many", "ours")
    if many:
        row("%s, same host: GB/s" % many["object"], many["gbps_median"], ">= 1.5", many["gbps_median"] >= 1.5)
    for shape in ("tuple", "dict"):
        ours = next((r for r in records if r["link"] == "same host" and r["object"].startswith("model weights")
                     and shape in r["object"] and r["method"] == "ours"), None)
        theirs = next((r for r in records if r["link"] == "same host" and r["object"].startswith("model weights")
                       and shape in r["object"] and r["method"] == "vineyard client.migrate"), None)
        if ours and theirs:
            value = theirs["median_s"] / ours["median_s"]
            row("same host, %s: x vineyard's own" % ours["object"], value, ">= 3", value >= 3)
    if not cross:
        return
    raw = _raw_tcp_best(records, cross, "1 GiB") or _raw_tcp_best(records, cross, "64 MiB")
    for obj, goal in (("1 GiB", 0.8), ("64 MiB", 0.7)):
        tcp, raw_obj = _find(records, cross, obj, "ours: TCP agent"), _raw_tcp_best(records, cross, obj)
        if tcp and raw_obj:
            value = tcp["gbps_median"] / raw_obj["gbps_median"]
            row("across %s, %s via the agent: share of raw TCP (better of 1 and 4 connections)" % (cross, obj),
                value, ">= %.2f" % goal, value >= goal)
    warm = _find(records, cross, "1 MiB", "ours: TCP agent, persist=False")
    if warm:
        row("across %s, 1 MiB via the agent, persist=False: ms" % cross, warm["median_s"] * 1000, "<= 3",
            warm["median_s"] <= 0.003)
    batch = next((r for r in records if r["link"] == cross and r["method"] == "ours: migrate_many, TCP agent"), None)
    if batch and raw:
        value = batch["gbps_median"] / raw["gbps_median"]
        row("across %s, %s migrate_many via the agent: share of raw TCP" % (cross, batch["object"]), value,
            ">= 0.60", value >= 0.6)


def links_table(records):
    """Shaped links (bench/cases_links.py): one row per link and data, one column per method, GB/s of
    the original bytes (medians)."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    rows = list(dict.fromkeys((r["link"], r["object"]) for r in records))
    lines = ["| link | data | " + " | ".join(methods) + " |", "| --- | --- |" + " ---: |" * len(methods)]
    for link, obj in rows:
        cells = []
        for method in methods:
            match = [r for r in records if (r["link"], r["object"], r["method"]) == (link, obj, method)]
            cells.append("%.3f" % match[0]["gbps_median"] if match else "-")
        lines.append("| %s | %s | %s |" % (link, obj, " | ".join(cells)))
    return "\n".join(lines)


def rebalance_table(records):
    lines = ["| case | link | bytes moved | rebalance median s | largest share alone median s | ratio |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in records:
        lines.append("| %s | %s | %d MiB | %.3f | %.3f | %.2f |" % (
            r["case"], r["link"], r["bytes_moved"] // MiB, r["rebalance_median_s"], r["alone_median_s"], r["ratio"]))
    return "\n".join(lines)


def chart(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    links = sorted({r["link"] for r in records}, key=lambda link: link != "same host")
    fig, axes = plt.subplots(1, len(links), figsize=(7 * len(links), 5), squeeze=False)
    for ax, link in zip(axes[0], links):
        rows = [r for r in records if r["link"] == link and r["object"] != "tiny"]
        objects = list(dict.fromkeys(r["object"] for r in rows))
        methods = list(dict.fromkeys((r["method"], r.get("compression", "-")) for r in rows))
        width = 0.8 / max(1, len(methods))
        for i, (method, compression) in enumerate(methods):
            values = []
            for obj in objects:
                match = [r for r in rows if r["object"] == obj and r["method"] == method
                         and r.get("compression", "-") == compression]
                values.append(match[0]["gbps_median"] if match else 0)
            label = method if compression == "-" else "%s (compression %s)" % (method, compression)
            ax.bar([x + i * width for x in range(len(objects))], values, width, label=label)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(objects))])
        ax.set_xticklabels(objects)
        ax.set_ylabel("GB/s (median)")
        ax.set_title(link)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
