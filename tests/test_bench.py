import pytest

from gancourse import bench


def test_measure_and_report_ratio_against_the_baseline():
    results = bench.measure("dcgan", ["smoke"], steps=2, warmup=1,
                            variants=[bench.BASELINE, "fit, 8 steps per call"])
    assert [r["variant"] for r in results] == [bench.BASELINE, "fit, 8 steps per call"]
    for r in results:
        assert r["steps"] == 2 and r["batch"] == 32
        assert r["images_per_s"] == pytest.approx(r["steps_per_s"] * 32)
        assert r["peak_rss_mb"] > 50
    text = bench.report(results)
    ratio = results[1]["images_per_s"] / results[0]["images_per_s"]
    assert f"{ratio:.2f}" in text and "1.00" in text


def test_bench_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown model 'vae'"):
        bench.measure("vae")
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        bench.measure("dcgan", ["huge"])
    with pytest.raises(ValueError, match="unknown variant 'turbo'"):
        bench.measure("dcgan", ["smoke"], variants=["turbo"])


def test_pix2pix_bench_runs_the_paired_baseline_and_fit():
    results = bench.measure("pix2pix", ["smoke"], steps=1, warmup=1,
                            variants=[bench.BASELINE, "fit, 1 step per call"])
    assert [(r["model"], r["batch"]) for r in results] == [("pix2pix", 8)] * 2
    assert all(r["seconds"] > 0 for r in results)
    with pytest.raises(ValueError, match="unknown variant 'fit \\+ XLA, 8 steps per call' for pix2pix"):
        bench.measure("pix2pix", ["smoke"], variants=["fit + XLA, 8 steps per call"])
