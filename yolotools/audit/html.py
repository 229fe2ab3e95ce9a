"""The audit's self-contained HTML report (figures inlined as PNG data URIs)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..figures import png_data_uri
from ..io.files import atomic_write_text

__all__ = ["write_audit_html"]


AXIS = {"area": "box area / image area", "width": "box width / image width", "height": "box height / image height",
        "aspect": "aspect: log(box width / height)", "cx": "box centre x / image width", "cy": "box centre y / image height",
        "per_image": "boxes per image"}


def _hist_figs(ta, tb, props, name_a, name_b):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    for p in props:
        a, b = ta[p], tb[p]
        if not len(a) or not len(b):
            continue
        fig, ax = plt.subplots(figsize=(4, 2.6))
        lo, hi = np.quantile(np.concatenate([a, b]), [0.005, 0.995])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        ax.hist(a, bins, density=True, alpha=0.5, label=name_a)
        ax.hist(b, bins, density=True, alpha=0.5, label=name_b)
        ax.set_title(p, fontsize=9)
        ax.set_xlabel(AXIS.get(p, p), fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.legend(fontsize=6)
        figs.append((p, png_data_uri(fig)))
    return figs


def _diff_images(ds_a, ds_b, image_ids) -> list[str]:
    """Images with A's boxes (red) and B's (green) drawn, as data URIs; skipped
    when the image file is not there."""
    from PIL import Image, ImageDraw

    out = []
    a, b = ds_a.by_id(), ds_b.by_id()
    for iid in image_ids:
        ra, rb = a.get(iid), b.get(iid)
        if ra is None or rb is None or ra.path is None or not Path(ra.path).exists():
            continue
        try:
            im = Image.open(ra.path).convert("RGB")
        except OSError:
            continue
        d = ImageDraw.Draw(im)
        for rec, col in ((ra, (230, 30, 30)), (rb, (30, 200, 30))):
            sx, sy = im.width / rec.image_hw[1], im.height / rec.image_hw[0]
            for x1, y1, x2, y2 in rec.annotations.boxes.xyxy.tolist():
                d.rectangle([x1 * sx, y1 * sy, x2 * sx, y2 * sy], outline=col, width=2)
        im.thumbnail((480, 480))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
        out.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode())
    return out


def write_audit_html(path: Path, rep, ds_a, ds_b=None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .drift import PROPS, box_table

    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>yolotools audit</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px;overflow-wrap:anywhere}table{max-width:100%}.err{color:#b00}.warn{color:#a60}.info{color:#555}td.fix{min-width:220px}.flag{background:#fdd}img{margin:4px;max-width:100%}"
             ".rule{font-size:13px;color:#444;max-width:900px}</style>",
             "</head><body><h1>yolotools audit</h1>"]
    v = rep.validation
    crowd = f" ({v.crowd} crowd boxes among them: convert leaves those out of the txt and keeps them in the sidecar)" if v.crowd else ""
    parts.append(f"<h2>Validation: {esc(v.source)}</h2><p>{v.images} images, {v.boxes} boxes{crowd}, {len(v.findings)} findings "
                 f"({v.errors} errors); tiny boxes judged at a training size of {v.train_size} px</p>")
    if not v.findings:
        parts.append("<p>No findings: every file read, every box valid.</p>")
    else:
        parts.append("<table><tr><th>kind</th><th>count</th></tr>" + "".join(f"<tr><td>{esc(k)}</td><td>{n}</td></tr>" for k, n in v.counts().items())
                     + "</table><br>")
        parts.append("<table><tr><th>severity</th><th>file</th><th>where</th><th>message</th><th>fix</th></tr>")
        for f in v.findings[:500]:
            cls = {"error": "err", "warning": "warn"}.get(f.severity, "info")
            parts.append(f"<tr class='{cls}'><td>{f.severity}</td><td>{esc(f.file)}</td><td>{esc(f.where)}</td><td>{esc(f.message)}</td>"
                         f"<td class='fix'>{esc(f.fix)}</td></tr>")
        parts.append("</table>" + (f"<p>{len(v.findings) - 500} more findings in the JSON (--json).</p>" if len(v.findings) > 500 else ""))
    ta = box_table(ds_a)
    names = ds_a.class_map.names
    fig, ax = plt.subplots(figsize=(min(16, max(5, 0.2 * len(names))), 3.2))
    x = np.arange(len(names))
    ca = np.bincount(ta["cls"], minlength=len(names))
    ax.bar(x - 0.2, ca / max(ca.sum(), 1), 0.4, label="A")
    if ds_b is not None:
        tb = box_table(ds_b)
        cb = np.bincount(tb["cls"][tb["cls"] < len(names)], minlength=len(names))
        ax.bar(x + 0.2, cb / max(cb.sum(), 1), 0.4, label="B")
    ax.set_xticks(x, names, rotation=90, fontsize=7 if len(names) <= 40 else 5)
    ax.set_ylabel("share of boxes")
    ax.legend(fontsize=7)
    parts.append(f"<h2>Classes</h2><img src='{png_data_uri(fig)}'>")
    if rep.drift is not None:
        d = rep.drift
        parts.append(f"<h2>Drift: A = {esc(d.a)}, B = {esc(d.b)}</h2><p>flagged: {esc(', '.join(d.flagged) or 'none')}</p>")
        parts.append("<p class='rule'>A property is flagged only when <b>both</b> hold: its mean shift (in log space for area, width "
                     "and height: 0.1 is about a 10% size change) is larger than its floor, <b>and</b> moving whole images between A and B "
                     "(or swapping A and B within each image, for two versions of one dataset) gives a permutation p-value under 0.001. "
                     "A PSI above its noise level with a small shift or a large p is a real but unimportant difference, or noise "
                     "between images; boxes of one image are not independent.</p>")
        parts.append("<table><tr><th>property</th><th>PSI</th><th title='PSI that two resamples of A reach at these sizes (95th percentile)'>"
                     "noise95</th><th>KS</th><th>KS p</th><th>EMD</th><th>shift</th><th>floor</th><th>perm p</th><th>flag</th></tr>")
        for k, s in d.properties.items():
            if s.get("psi") is None:
                continue
            parts.append(f"<tr class='{'flag' if s['flag'] else ''}'><td>{k}</td><td>{s['psi']:.4f}</td><td>{s['psi_noise95']:.4f}</td>"
                         f"<td>{s['ks']:.3f}</td><td>{s['ks_p']:.2e}</td><td>{s['wasserstein']:.4f}</td><td>{s['mean_shift']:+.3f}</td>"
                         f"<td>{s['floor']:g}</td><td>{s['p_perm']:.4f}</td><td>{'DRIFT' if s['flag'] else ''}</td></tr>")
        parts.append("</table>")
        for p, uri in _hist_figs(ta, tb, [*PROPS, "per_image"], "A", "B"):
            parts.append(f"<img src='{uri}' title='{p}'>")
        if d.anchor_fit:
            af = d.anchor_fit
            parts.append(f"<p>Anchors of A on B: avg IoU {af['avg_iou_b']:.4f} (A: {af['avg_iou_a']:.4f}), BPR {af['bpr_b']:.4f} (A: {af['bpr_a']:.4f})</p>")
    if rep.diff is not None:
        df = rep.diff
        parts.append(f"<h2>Annotation diff</h2><pre>{esc(df.to_table())}</pre>")
        if ds_b is not None:
            parts.append("<p>Most changed images (red: A, green: B):</p>")
            for uri in _diff_images(ds_a, ds_b, [w["image_id"] for w in df.worst_images[:4]]):
                parts.append(f"<img src='{uri}' style='max-width:45%'>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))
    return str(path)
