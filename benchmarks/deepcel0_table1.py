"""DeepCEL0 paper, Table 1: CEL0, Deep-STORM, Deep-STORM-ReLU and DeepCEL0 on Tests 1b-4b.

Tests (noise as in the paper, SPEC.md 0.5 and 4.5): Test 2b, 3b, 4b have
Poisson then Gaussian noise at SNR 10, 12, 15 dB per frame, with the
paper's SNR = 10 log10(|S H x|^2 / |S H x - y|^2) (eq. 12) reached exactly;
Test 1b ("mixed") the same with each frame's SNR drawn uniformly in
[10, 15] dB, so the Gaussian standard deviation varies from frame to frame.
The ground truth (``--gt``, e.g. the SMLM 2013 bundled tubes of
shared/data; default: simulated tubes, 361 frames of 64 x 64 camera pixels
of 100 nm) is turned into frames and scored by two protocols:

* ``paper`` (the main table; benchmarks/paper_protocol.py): what the
  paper's text says. The emitters are counted per fine pixel of 25 nm
  (GT image X, 256 x 256 per frame, times ``--photons`` per emitter: the
  paper gives no photon count, 2250 is the DeepCEL0 notebook's training
  value), Y = S_L K X (Gaussian of FWHM 258.21 nm on the fine grid, 4 x 4
  sum binning: the operator CEL0 inverts), then the noise. Every positive
  pixel of an output is a detection; the molecules are the non-zero GT
  pixels; one-to-one matching within 2/4/6 fine pixels (Euclidean distance
  between pixel indices, ``--metric``); TN = fine pixels - TP - FP - FN.
* ``offgrid`` (second table): the continuous positions rendered with the
  pixel-integrated Gaussian (``render_events``), truth rounded to the
  fine-pixel centres, matching in nm (50/100/150 nm), scored with
  local maxima + 3x3 centroid ("maxima", the toolkit's default) and with
  every positive pixel ("pixels").

Methods: CEL0 with lambda chosen per test on 8 random frames (30 values in
[1e-3, 1] on max-normalised frames, best Jaccard at 2 fine pixels / 50 nm;
"best lambda") and with the lambda chosen on Test 4b ("lambda of 4b"); the
shipped networks, and the paper's Deep-STORM-architecture DeepCEL0
(``load_model(method="deepcel0", architecture="deepstorm")``; its row is
skipped while the weights are not shipped). Also: the resolution Tests
1a-3a (two emitters 25 and 75 nm apart, four on a 125 nm circle;
128 x 128 camera pixels, q = 4) with line profiles
(docs/deepcel0_resolution.png), and the speed of each method.

    .venv/bin/python benchmarks/deepcel0_table1.py --gt ../shared/data/smlm2013_bundled_tubes/positions.csv
    .venv/bin/python benchmarks/deepcel0_table1.py --gt ... --protocol paper --methods cel0 --threads 1 --no-write
    .venv/bin/python benchmarks/deepcel0_table1.py --frames 100      # simulated tubes, the first 100 frames

Results of each (protocol, test, method) are cached in --cache (network
results keyed by the weights' sha256), so an interrupted run continues
where it stopped. docs/benchmarks.md is written only by a run of every
method (and not with --no-write).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import ROOT, replace_section  # noqa: E402
from cel0_lambda import select_cel0_lambda  # noqa: E402
from paper_protocol import PHOTONS, cel0_batched, paper_tests, pixel_scores, select_lambda_pixels  # noqa: E402

from pointillist import Optics  # noqa: E402
from pointillist.errors import InputError  # noqa: E402
from pointillist.io import file_sha256, read_localizations  # noqa: E402
from pointillist.io.weights import shipped_weights_path  # noqa: E402
from pointillist.localizations import Localizations  # noqa: E402
from pointillist.methods.smlm.cel0 import cel0_frames, spike_localizations  # noqa: E402
from pointillist.methods.smlm.inference import predict_frames  # noqa: E402
from pointillist.methods.smlm.network import load_model, spike_scale  # noqa: E402
from pointillist.metrics import match_localizations, specificity  # noqa: E402
from pointillist.simulate import simulate_smlm  # noqa: E402
from pointillist.simulate.camera import add_noise_at_snr  # noqa: E402
from pointillist.simulate.render import render_events  # noqa: E402

TESTS = {"1b": (10.0, 15.0), "2b": (10.0, 10.0), "3b": (12.0, 12.0), "4b": (15.0, 15.0)}
TOLERANCES = (50.0, 100.0, 150.0)
TOLERANCES_PX = (2, 4, 6)
NETWORKS = ("deepstorm", "deepstorm-relu", "deepcel0", "deepcel0-paper")
# shipped weights file of each network row: the sub-pixel networks, and DeepCEL0 with the paper's network
WEIGHTS = {"deepstorm": "deepstorm", "deepstorm-relu": "deepstorm-relu-subpixel", "deepcel0": "deepcel0-subpixel",
           "deepcel0-paper": "deepcel0"}
LABELS = {"cel0-best": "CEL0 (best lambda)", "cel0-4b": "CEL0 (lambda of 4b)", "deepstorm": "Deep-STORM",
          "deepstorm-relu": "Deep-STORM-ReLU (sub-pixel)", "deepcel0": "DeepCEL0 (sub-pixel)",
          "deepcel0-paper": "DeepCEL0 (paper's network)"}
# Table 1 of Cascarano et al. 2022: JI 50/100/150 nm, sensitivity, specificity (%)
PAPER = {
    ("1b", "cel0-best"): (41.64, 49.46, 51.65, 56.22, 99.88), ("1b", "cel0-4b"): (35.94, 43.93, 46.70, 67.74, 99.71),
    ("1b", "deepstorm"): (0.38, 0.38, 0.38, 100.00, 13.17), ("1b", "deepstorm-relu"): (56.34, 67.55, 70.50, 73.73, 99.90),
    ("1b", "deepcel0"): (58.96, 68.94, 71.55, 70.89, 99.95),
    ("2b", "cel0-best"): (42.29, 50.21, 51.48, 49.08, 99.95), ("2b", "cel0-4b"): (17.13, 28.64, 33.16, 51.15, 99.34),
    ("2b", "deepstorm"): (0.38, 0.38, 0.38, 100.00, 13.34), ("2b", "deepstorm-relu"): (51.86, 65.93, 69.70, 70.51, 99.88),
    ("2b", "deepcel0"): (54.83, 68.49, 71.37, 65.44, 99.94),
    ("3b", "cel0-best"): (62.17, 63.60, 64.32, 65.90, 99.98), ("3b", "cel0-4b"): (48.19, 50.46, 51.38, 73.73, 99.82),
    ("3b", "deepstorm"): (0.38, 0.38, 0.38, 100.00, 13.53), ("3b", "deepstorm-relu"): (58.10, 67.54, 70.08, 76.04, 99.90),
    ("3b", "deepcel0"): (61.13, 69.66, 71.55, 69.59, 99.95),
    ("4b", "cel0-best"): (68.27, 70.33, 71.02, 78.34, 99.95), ("4b", "cel0-4b"): (68.27, 70.33, 71.02, 78.34, 99.95),
    ("4b", "deepstorm"): (0.38, 0.38, 0.38, 100.00, 12.65), ("4b", "deepstorm-relu"): (59.49, 69.11, 71.76, 75.12, 99.91),
    ("4b", "deepcel0"): (61.48, 69.80, 72.33, 70.12, 99.96),
}
# the paper has one DeepCEL0 network: its row is the reference of both of ours
PAPER.update({(name, "deepcel0-paper"): PAPER[(name, "deepcel0")] for name in TESTS})


def ground_truth(args, optics) -> tuple[Localizations, int]:
    if args.gt is not None:
        gt = read_localizations(args.gt)
        n_frames = int(gt.frame.max()) + 1
    else:
        sim = simulate_smlm(optics=optics, shape=(args.size, args.size), n_frames=361, density_per_um2=217 / 40.96,
                            structure="tubes", snr_db=15.0, seed=args.seed)
        gt, n_frames = sim.ground_truth, 361
    if args.frames:
        n_frames = min(n_frames, args.frames)
        gt = gt.select(gt.frame < n_frames)
    return gt, n_frames


def make_tests(gt, n_frames, optics, size, seed) -> dict[str, np.ndarray]:
    """Off-grid tests: continuous positions, pixel-integrated Gaussian, noise at each test's SNR."""
    photons = gt.photons if gt.photons is not None and np.any(gt.photons != 1) else np.full(len(gt), PHOTONS)
    clean = render_events(gt.frame, gt.x_nm, gt.y_nm, photons, n_frames=n_frames, shape=(size, size),
                          pixel_size_nm=optics.pixel_size_nm, sigma_nm=optics.sigma_nm)
    tests = {}
    for k, (name, (lo, hi)) in enumerate(TESTS.items()):
        rng = np.random.default_rng([seed, k])
        snrs = rng.uniform(lo, hi, n_frames)
        tests[name] = np.stack([add_noise_at_snr(clean[t], snrs[t], rng=rng)[0][0] for t in range(n_frames)])
        tests[name] = tests[name].astype(np.float32)
    return tests


def snapped(gt: Localizations, fine: float) -> Localizations:
    """The truth moved to the centres of its fine pixels (the paper's rounding to the 25 nm grid)."""
    return Localizations(frame=gt.frame, x_nm=(np.floor(gt.x_nm / fine) + 0.5) * fine,
                         y_nm=(np.floor(gt.y_nm / fine) + 0.5) * fine)


def score(images, truth, fine, protocol, threshold) -> dict:
    locs = spike_localizations(images, pixel_size_nm=fine, protocol=protocol, threshold=threshold)
    out = {"n_detections": len(locs)}
    for tol in TOLERANCES:
        m = match_localizations(locs, truth, tolerance_nm=tol)
        out[f"ji_{tol:g}"] = m.jaccard
        if tol == TOLERANCES[0]:
            out["sensitivity"] = m.recall
            out["specificity"] = specificity(m.tp, m.fp, m.fn, images.size)
            out["tp"], out["fp"], out["fn"] = m.tp, m.fp, m.fn
    return out


def network(method, device="cpu"):
    """The loaded network of a table row: the sub-pixel networks, the paper's for "deepcel0-paper" and Deep-STORM."""
    if method == "deepcel0-paper":
        return load_model(method="deepcel0", architecture="deepstorm", device=device)
    return load_model(method=method, architecture="deepstorm" if method == "deepstorm" else "subpixel", device=device)


def weights_tag(method) -> str | None:
    """Cache tag of a network row (its weights' sha256), None when the weights are not shipped."""
    try:
        return "_" + file_sha256(shipped_weights_path(WEIGHTS[method]))[:10]
    except InputError:
        return None


def run_method(method, stack, optics, lam, device) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    if method.startswith("cel0"):
        # batches of 16 frames, as `localize` does: a batch iterates until its slowest frame converges
        images = cel0_batched(stack, optics, lam, device=device)
    else:
        images = predict_frames(stack, network(method, device), batch_size=16)
    return np.maximum(images, 0), time.perf_counter() - t0


def selected(args, names) -> list[str]:
    """The methods of ``names`` asked for with --methods ("cel0" stands for both CEL0 rows)."""
    return [m for m in names if (m.startswith("cel0") and "cel0" in args.methods) or m in args.methods]


def _lambda(cache, name, choose) -> dict:
    file = cache / f"lambda_{name}.json"
    if file.exists():
        return json.loads(file.read_text())
    t0 = time.perf_counter()
    sel = choose()
    sel["seconds"] = time.perf_counter() - t0
    file.write_text(json.dumps(sel))
    return sel


# Rows in two passes over the tests: every test's own CEL0 first (an interrupted run then
# holds the table's main rows), then CEL0 with the lambda of 4b and the networks.
PASSES = (("cel0-best",), ("cel0-4b", *NETWORKS))


def _run_rows(args, cache, name, stack, lambdas, optics, scorer, methods) -> dict:
    """The asked-for ``methods`` on one test: cached result dicts keyed by method."""
    out = {}
    for method in selected(args, [m for m in methods if not (name == "4b" and m == "cel0-4b")]):
        # network results are tied to the weights they came from
        tag = "" if method.startswith("cel0") else weights_tag(method)
        if tag is None:
            print(f"  {LABELS[method]}: weights not shipped yet, row skipped", flush=True)
            continue
        file = cache / f"{name}_{method}{tag}.json"
        if file.exists():
            out[method] = json.loads(file.read_text())
            continue
        lam = lambdas["4b" if method == "cel0-4b" else name]["best"] if method.startswith("cel0") else None
        images, seconds = run_method(method, stack, optics, lam, args.device)
        spike = 1.0 if method.startswith("cel0") else spike_scale(network(method).record)
        res = {"seconds": seconds, "frames": len(stack), "lambda": lam, **scorer(images, method, spike)}
        file.write_text(json.dumps(res))
        out[method] = res
        main = res["pixels"]
        print(f"  {LABELS[method]:26s} pixels JI {main['ji_' + str(scorer.first)]:.2f}  "
              f"{seconds / len(stack):.2f} s/frame", flush=True)
    return out


def table_paper(args) -> tuple[str, dict]:
    """The paper protocol: on-grid GT image, Y = S_L K X, every positive pixel scored on the fine grid."""
    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    gt, n_frames = ground_truth(args, optics)
    counts, tests = paper_tests(gt, n_frames, optics, args.size, TESTS, args.seed, photons=args.photons)
    cache = Path(args.cache) / (f"paper_{args.gt.stem if args.gt else 'tubes'}_f{n_frames}_s{args.seed}"
                                f"_p{args.photons:g}_{args.metric}_l{args.n_lambdas}x{args.selection_frames}")
    cache.mkdir(parents=True, exist_ok=True)

    def scorer(images, method, spike):
        # the paper does not say which pixel distance: the other one is kept too (for the notes, not the table)
        other = "chebyshev" if args.metric == "euclidean" else "euclidean"
        return {"pixels": pixel_scores(images, counts, TOLERANCES_PX, metric=args.metric),
                f"pixels_{other}": pixel_scores(images, counts, TOLERANCES_PX, metric=other)}

    scorer.first = TOLERANCES_PX[0]
    results, lambdas = {}, {}
    for methods, name in [(m, n) for m in PASSES for n in ("4b", "1b", "2b", "3b")]:
        stack = tests[name]
        if "cel0" in args.methods and name not in lambdas:
            lambdas[name] = _lambda(cache, name, lambda: select_lambda_pixels(
                stack, counts, optics, lambdas=np.geomspace(1e-3, 1.0, args.n_lambdas), n_frames=args.selection_frames,
                tol=TOLERANCES_PX[0], metric=args.metric, rng=args.seed, device=args.device))
            sel = lambdas[name]
            print(f"[paper] Test {name}: CEL0 lambda {sel['best']:.3g} (Jaccard {max(sel['jaccard']):.1f} % on "
                  f"{len(sel['frames'])} frames{'; at the edge of the grid' if sel['at_edge'] else ''})", flush=True)
        for method, res in _run_rows(args, cache, name, stack, lambdas, optics, scorer, methods).items():
            results[(name, method)] = res
    if ("4b", "cel0-best") in results:
        results[("4b", "cel0-4b")] = results[("4b", "cel0-best")]
    head = (f"Ground truth: {args.gt.name if args.gt else 'simulated tubes'}; {n_frames} frames; GT image = emitters "
            f"counted per 25 nm pixel ({(counts > 0).sum() / n_frames:.0f} non-zero pixels = molecules per frame, "
            f"{counts.sum() / n_frames:.0f} emitters), {args.photons:g} photons per emitter; Y = S_L K X (Gaussian "
            f"FWHM 258.21 nm on the fine grid, 4 x 4 sum binning); Poisson then Gaussian noise at the per-frame SNR "
            f"of eq. 12. Every positive fine pixel is a detection; JI at 2/4/6 fine pixels ({args.metric} distance), "
            f"sensitivity and specificity at 2.")
    return format_table(results, lambdas, [("pixels", "Paper protocol (on-grid, every positive pixel)")], head,
                        tol_names=TOLERANCES_PX, unit="px"), results


def table_offgrid(args) -> tuple[str, dict]:
    """The off-grid protocol: continuous positions rendered on the camera, matching in nm."""
    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    fine = optics.fine_pixel_nm
    gt, n_frames = ground_truth(args, optics)
    truth = snapped(gt, fine)
    tests = make_tests(gt, n_frames, optics, args.size, args.seed)
    cache = Path(args.cache) / (f"{args.gt.stem if args.gt else 'tubes'}_f{n_frames}_s{args.seed}"
                                f"_l{args.n_lambdas}x{args.selection_frames}")
    cache.mkdir(parents=True, exist_ok=True)

    def scorer(images, method, spike):
        thr_max = 0.0 if method.startswith("cel0") else 0.1 * spike
        return {"maxima": score(images, truth, fine, "maxima", thr_max), "pixels": score(images, truth, fine, "pixels", 0.0)}

    scorer.first = f"{TOLERANCES[0]:g}"
    results, lambdas = {}, {}
    for methods, name in [(m, n) for m in PASSES for n in ("4b", "1b", "2b", "3b")]:
        stack = tests[name]
        if "cel0" in args.methods and name not in lambdas:
            def choose(stack=stack):
                sel = select_cel0_lambda(stack, gt, optics=optics, lambdas=np.geomspace(1e-3, 1.0, args.n_lambdas),
                                         n_frames=args.selection_frames, tolerance_nm=50.0, rng=args.seed)
                return {"best": sel.best, "lambdas": sel.lambdas.tolist(), "jaccard": sel.jaccard.tolist(),
                        "frames": sel.frames.tolist()}

            lambdas[name] = _lambda(cache, name, choose)
            print(f"[offgrid] Test {name}: CEL0 lambda {lambdas[name]['best']:.3g} "
                  f"(Jaccard {max(lambdas[name]['jaccard']):.1f} % on {len(lambdas[name]['frames'])} frames)", flush=True)
        for method, res in _run_rows(args, cache, name, stack, lambdas, optics, scorer, methods).items():
            results[(name, method)] = res
    if ("4b", "cel0-best") in results:
        results[("4b", "cel0-4b")] = results[("4b", "cel0-best")]
    source = str(args.gt.name) if args.gt else f"simulated tubes (seed {args.seed})"
    head = (f"Ground truth: {source}; {n_frames} frames of {args.size} x {args.size} px (100 nm), "
            f"{len(gt) / n_frames:.0f} emitters per frame rendered off-grid (pixel-integrated Gaussian, FWHM 258.21 nm, "
            f"{PHOTONS:g} photons), truth rounded to the 25 nm pixel centres; JI at 50/100/150 nm.")
    protocols = [("maxima", "Off-grid, protocol 'maxima' (local maxima + 3x3 centroid; the toolkit's default)"),
                 ("pixels", "Off-grid, protocol 'pixels' (every positive fine pixel is a detection)")]
    return format_table(results, lambdas, protocols, head, tol_names=TOLERANCES, unit="nm"), results


def format_table(results, lambdas, protocols, head, *, tol_names, unit) -> str:
    """Markdown: one table per protocol, each cell "ours / paper"; rows that were not run are left out."""
    t = [f"{v:g}" for v in tol_names]
    lines = [head, "Each cell: ours / paper (Cascarano et al. 2022, Table 1; the paper's tolerances are 2/4/6 fine "
             "pixels = 50/100/150 nm). Percent.", ""]
    for protocol, title in protocols:
        lines += [f"**{title}**", "", f"| Test | Method | JI {t[0]} {unit} | JI {t[1]} {unit} | JI {t[2]} {unit} | "
                  "Sens. | Spec. |", "|---|---|---|---|---|---|---|"]
        for name in ("1b", "2b", "3b", "4b"):
            for method in ("cel0-best", "cel0-4b", *NETWORKS):
                if (name == "4b" and method == "cel0-4b") or (name, method) not in results:
                    continue
                r = results[(name, method)][protocol]
                ours = (r[f"ji_{t[0]}"], r[f"ji_{t[1]}"], r[f"ji_{t[2]}"], r["sensitivity"], r["specificity"])
                cells = " | ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(ours, PAPER[(name, method)]))
                lines.append(f"| {name} | {LABELS[method]} | {cells} |")
        lines.append("")
    if lambdas:
        lam = ", ".join(f"{k} {v['best']:.3g}" for k, v in sorted(lambdas.items()))
        lines += [f"CEL0 lambda (on max-normalised frames) chosen per test: {lam}.", ""]
    lines += ["| Method | seconds per frame (this 2-core CPU) | frames per second |", "|---|---|---|"]
    for method in ("cel0-best", *NETWORKS):
        runs = [results[(n, method)] for n in TESTS if (n, method) in results]
        if runs:
            secs = np.mean([r["seconds"] / r["frames"] for r in runs])
            lines.append(f"| {LABELS[method]} | {secs:.3f} | {1 / secs:.1f} |")
    return "\n".join(lines)


def resolution_tests(args) -> str:
    """Tests 1a-3a: close emitters on a 128 x 128 frame, the line profile through them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optics = Optics(pixel_size_nm=100, psf_fwhm_nm=258.21, upsample=4)
    fine, size = optics.fine_pixel_nm, 128
    centre = 256 * fine  # fine column 256 (left edge of the fine pixel), as the paper's column 256
    cases = {
        "1a: 25 nm apart": np.array([[centre + fine / 2, centre - fine / 2], [centre + fine / 2, centre + fine / 2]]),
        "2a: 75 nm apart": np.array([[centre + fine / 2, centre - 1.5 * fine], [centre + fine / 2, centre + 1.5 * fine]]),
        "3a: 4 on a 125 nm circle": np.array([[centre + fine / 2 + 125 * np.cos(a), centre + fine / 2 + 125 * np.sin(a)]
                                              for a in np.arange(4) * np.pi / 2]),
    }
    nets = [m for m in NETWORKS if weights_tag(m) is not None]
    methods = ("cel0", *nets)
    models = {m: network(m) for m in nets}
    fig, axes = plt.subplots(len(cases), len(methods) + 1, figsize=(3 * (len(methods) + 1), 3 * len(cases)))
    rows = ["| Test | " + " | ".join(LABELS.get(m, "CEL0") for m in methods) + " |",
            "|---|" + "---|" * len(methods)]
    rng = np.random.default_rng(args.seed)
    for i, (name, xy) in enumerate(cases.items()):
        clean = render_events(np.zeros(len(xy), int), xy[:, 0], xy[:, 1], np.full(len(xy), 2250.0), n_frames=1,
                              shape=(size, size), pixel_size_nm=optics.pixel_size_nm, sigma_nm=optics.sigma_nm)
        frame = add_noise_at_snr(clean, 15.0, rng=rng)[0].astype(np.float32)
        col = int(xy[0, 0] // fine)
        lo, hi = 256 - 12, 256 + 12
        axes[i, 0].set_ylabel(name)
        cells = []
        for j, method in enumerate(methods):
            if method == "cel0":
                img = cel0_frames(frame, optics=optics, lam=args.cel0_lambda)[0]
            else:
                img = np.maximum(predict_frames(frame, models[method])[0], 0)
            crop = img[lo:hi, lo:hi]
            axes[i, j].imshow(crop, cmap="magma", extent=(lo * fine, hi * fine, hi * fine, lo * fine))
            axes[i, j].set_title(LABELS.get(method, "CEL0"), fontsize=9)
            profile = img[lo:hi, col]
            axes[i, -1].plot((np.arange(lo, hi) + 0.5) * fine, profile / max(profile.max(), 1e-12), label=method)
            locs = spike_localizations(img, pixel_size_nm=fine, threshold=0.0 if method == "cel0" else
                                       0.1 * spike_scale(models[method].record))
            near = np.hypot(locs.x_nm - xy[:, 0].mean(), locs.y_nm - xy[:, 1].mean()) < 300
            cells.append(f"{int(near.sum())} found (of {len(xy)})")
        for x, y in xy:
            axes[i, -1].axvline(y, color="k", lw=0.5, ls=":")
        axes[i, -1].set_title("profile along the column (normalised)", fontsize=9)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "deepcel0_resolution.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return "\n".join(rows) + f"\n\nFigure: `docs/{out.name}` (crops of 600 nm around the emitters; dotted lines: true y)."


def training_summary() -> str:
    """The shipped networks' training record, from the manifest."""
    from importlib import resources

    manifest = json.loads((Path(str(resources.files("pointillist"))) / "weights" / "manifest.json").read_text())
    names = {"deepstorm": "Deep-STORM", "deepstorm-relu": "Deep-STORM-ReLU", "deepcel0": "DeepCEL0"}
    entries = [e for e in manifest["weights"] if e["method"] in names]
    lines = ["| file | network | architecture | epochs | best epoch | best validation loss | training patches | "
             "seconds | MB | how it was made (manifest note) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e['file']} | {names[e['method']]} | {e['architecture']['name']} | {e['epochs']} | "
                     f"{e['best_epoch']} | {e['best_val_loss']:.4g} | {e['data']['n_train']} | "
                     f"{e['training']['seconds']:.0f} | {e['bytes'] / 1e6:.1f} | {e['note']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gt", type=Path, default=None, help="ground-truth CSV (ThunderSTORM or challenge format)")
    parser.add_argument("--size", type=int, default=64, help="camera pixels per side (default 64)")
    parser.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cel0-lambda", type=float, default=5e-3, help="CEL0 lambda for the resolution tests")
    parser.add_argument("--methods", nargs="+", default=["cel0", *NETWORKS], choices=["cel0", *NETWORKS],
                        help="compute only these (the table is written when all are done; results are cached)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--protocol", choices=["paper", "offgrid", "both"], default="both",
                        help="paper: on-grid GT image and pixel scoring (the main table); offgrid: rendered positions")
    parser.add_argument("--photons", type=float, default=PHOTONS,
                        help=f"photons per emitter of the paper protocol (default {PHOTONS:g}; the paper gives none)")
    parser.add_argument("--metric", choices=["euclidean", "chebyshev"], default="euclidean",
                        help="pixel distance of the paper protocol's matching (default euclidean)")
    parser.add_argument("--n-lambdas", type=int, default=30, help="CEL0 lambda candidates in [1e-3, 1] (default 30)")
    parser.add_argument("--selection-frames", type=int, default=8, help="frames for the lambda choice (default 8)")
    parser.add_argument("--cache", default=str(ROOT / "bench_out" / "deepcel0"), help="per-result cache folder")
    parser.add_argument("--skip-table", action="store_true")
    parser.add_argument("--skip-resolution", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    body = training_summary()
    print(body)
    if not args.no_write:
        replace_section("deepcel0-training", body)
    # the docs hold complete tables only: a run of a subset of the methods prints
    complete = set(args.methods) == {"cel0", *NETWORKS}
    if not args.skip_table:
        for protocol, section, make in (("paper", "deepcel0-table1", table_paper),
                                        ("offgrid", "deepcel0-table1-offgrid", table_offgrid)):
            if args.protocol in (protocol, "both"):
                body, _ = make(args)
                print(body, flush=True)
                if complete and not args.no_write:
                    replace_section(section, body)
    if not args.skip_resolution:
        body = resolution_tests(args)
        print(body)
        if not args.no_write:
            replace_section("deepcel0-resolution", body)


if __name__ == "__main__":
    sys.exit(main())
