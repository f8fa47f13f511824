import numpy as np
import pytest

from gancourse import viz


def test_to_uint8_maps_range_and_clips():
    out = viz.to_uint8(np.array([-1.5, -1.0, 0.0, 1.0, 2.0]))
    assert out.dtype == np.uint8 and out.tolist() == [0, 0, 128, 255, 255]
    assert viz.to_uint8(np.array([0.0, 0.5, 1.0]), value_range=(0, 1)).tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="high > low"):
        viz.to_uint8(np.zeros(2), value_range=(1, 1))


def test_grid_layout_and_values():
    images = np.stack([np.full((4, 5, 1), v, np.float32) for v in (-1.0, 1.0, 0.0)])
    tiled = viz.grid(images, ncols=2, pad=1)
    assert tiled.shape == (2 * 5 + 1, 2 * 6 + 1)
    assert tiled[1, 1] == 0 and tiled[1, 7] == 255 and tiled[6, 1] == 128
    assert tiled[6, 7] == 255  # the empty cell stays white
    assert viz.grid(np.zeros((4, 3, 3, 3))).shape == (9, 9, 3)
    with pytest.raises(ValueError, match=r"\(n, H, W, 1\|3\)"):
        viz.grid(np.zeros((2, 3, 3, 2)))


def test_save_and_plots(tmp_path):
    from PIL import Image

    path = viz.save_grid(np.zeros((4, 8, 8, 1)), tmp_path / "g" / "grid.png")
    with Image.open(path) as im:
        assert im.size == (2 * 9 + 1, 2 * 9 + 1)
    fig = viz.show_evolution({1: np.zeros((4, 8, 8, 1)), 2: np.ones((4, 8, 8, 1))}, n=2)
    assert len(fig.axes) == 2
    ax = viz.plot_history({"d_loss": [1.0, 0.5], "g_loss": [2.0, 1.0]})
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match="history has no fid"):
        viz.plot_history({"d_loss": [1.0]}, keys=("fid",))
    with pytest.raises(ValueError, match="no sample images"):
        viz.show_evolution({})


def test_grid_keeps_a_rows_by_columns_layout_and_show_rows_labels_them():
    import matplotlib.pyplot as plt

    rows = np.stack([np.full((4, 2, 2, 3), v, np.float32) for v in (-1.0, 0.0, 1.0)])  # (3, 4, 2, 2, 3)
    tiled = viz.grid(rows, pad=1)
    assert tiled.shape == (3 * 3 + 1, 4 * 3 + 1, 3)
    assert tiled[1, 1, 0] == 0 and tiled[4, 1, 0] == 128 and tiled[7, 10, 0] == 255  # row r holds rows[r]
    with pytest.raises(ValueError, match="has 4 columns, not ncols=2"):
        viz.grid(rows, ncols=2)
    ax = viz.show_rows({"input": rows[0], "output": rows[1], "target": rows[2]})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["input", "output", "target"]
    plt.close("all")
    with pytest.raises(ValueError, match="same"):
        viz.show_rows({"a": rows[0], "b": rows[0][:2]})


def test_markdown_table_formats_cells_and_checks_columns():
    rows = [{"name": "a", "params": 54423811, "l1": 0.15432, "ok": True}, {"name": "b", "params": 7, "l1": 1.0,
                                                                            "ok": False}]
    text = viz.markdown_table(rows, digits=2)
    assert text.splitlines() == ["| name | params | l1 | ok |", "|---|---|---|---|",
                                 "| a | 54,423,811 | 0.15 | True |", "| b | 7 | 1.00 | False |"]
    assert viz.markdown_table(rows, ["l1"]).splitlines()[2] == "| 0.154 |"
    with pytest.raises(ValueError, match=r"columns \['psnr'\] are missing"):
        viz.markdown_table(rows, ["psnr"])
    with pytest.raises(ValueError, match="no rows"):
        viz.markdown_table([])


def test_epoch_axes_have_whole_number_ticks():
    import matplotlib

    matplotlib.use("Agg")
    from gancourse import viz

    ax = viz.plot_history({"d_loss": [1.0, 0.8, 0.7, 0.65]}, keys=("d_loss",))
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks) and ax.get_xlabel() == "epoch"
    ax = viz.plot_metric({1: 5.0, 2: 4.0, 3: 3.5})
    ax.figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_markdown_table_escapes_pipes_so_cells_do_not_split():
    table = viz.markdown_table([{"mean |gradient|": "a|b", "n": 3}])
    header, rule, row = table.splitlines()
    assert header == "| mean \\|gradient\\| | n |" and row == "| a\\|b | 3 |"
    # the unescaped pipes separate exactly the two columns of every line
    assert all(len(__import__("re").split(r"(?<!\\)\|", line)) == 4 for line in (header, row))
