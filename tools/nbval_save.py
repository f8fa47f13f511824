"""pytest plugin: keep the notebooks that nbval executes, with their outputs.

``make notebooks`` executes every chapter once under nbval; this plugin saves
each executed notebook so that ``make book-check`` renders those outputs
instead of executing the chapters a second time::

    PYTHONPATH=tools pytest -p nbval_save --nbval-lax --nbval-save-dir=DIR *.ipynb

writes ``DIR/<name>.ipynb`` for every notebook whose cells all ran and passed
(cells skipped by an ``NBVAL_SKIP`` marker keep no outputs). A notebook with a
failing cell, or one only partly run (``-x``, ``-k``), is not written, so a
later build cannot pick up half a notebook.

The cells run and their outputs are built the way the book build's own
executor (nbclient) does it. Each cell is executed with ``store_history=True``
(nbval alone uses ``False``, under which IPython ignores a final ``;`` and
keeps no ``_``), and every iopub message of the cell goes through
``nbclient.NotebookClient.process_message``, so streams, ``clear_output``,
display updates and errors come out as if nbclient had run the cell. Code cells
are numbered 1, 2, ... in execution order and the notebook gets the kernel's
``language_info``, again as nbclient does. This is done by wrapping
``execute_cell_input`` and ``get_message`` of nbval's kernel
(``nbval.kernel.RunningKernel``, nbval 0.11); a cell whose execution was not
seen fails with a message saying so, rather than saving a notebook without
outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbval.plugin import IPyNbCell

KERNEL_INFO_TIMEOUT_S = 60


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-save-dir",
        metavar="DIR",
        help="write each notebook that ran and passed to DIR/<name>.ipynb, with its outputs",
    )


def pytest_configure(config):
    directory = config.getoption("nbval_save_dir")
    if directory:
        config.pluginmanager.register(NotebookSaver(Path(directory)), "nbval-save")


class _ExecutedNotebook:
    """The outputs of one notebook file, filled cell by cell as nbval runs it."""

    def __init__(self, collector):
        self.name = Path(str(collector.path)).name
        self.source_cells = collector.nb.cells
        self.nb = nbformat.from_dict(collector.nb)  # a deep copy that takes the outputs
        self.client = NotebookClient(self.nb, record_timing=False)
        # nbval makes one item per code cell; a deselected cell leaves the notebook incomplete.
        self.expected_cells = sum(1 for cell in self.source_cells if cell.cell_type == "code")
        self.finished_cells = 0
        self.failed = False

    def index_of(self, cell):
        for index, candidate in enumerate(self.source_cells):
            if candidate is cell:
                return index
        raise ValueError(f"nbval_save: a cell of {self.name} is not in the notebook nbval read")

    def record(self, cell, msg_id, messages):
        """Turn the iopub messages of one execution into the cell's outputs and count."""
        if msg_id is None:
            raise RuntimeError(
                f"nbval_save: no execution of cell {self.client.code_cells_executed} of {self.name} "
                "was seen; this plugin wraps nbval 0.11's RunningKernel (check the nbval version)"
            )
        index = self.index_of(cell)
        out_cell = self.nb.cells[index]
        out_cell.outputs = []
        self.client.clear_before_next_output = False
        for msg in messages:
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            try:
                self.client.process_message(msg, out_cell, index)
            except CellExecutionComplete:
                break
        self.client.code_cells_executed += 1
        out_cell.execution_count = self.client.code_cells_executed
        for output in out_cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = out_cell.execution_count

    @property
    def complete(self):
        return not self.failed and self.finished_cells == self.expected_cells


class _KernelRecorder:
    """Wraps a running nbval kernel to run a cell as nbclient does and keep its iopub messages."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.msg_id = None
        self.messages = []

    def __enter__(self):
        get_message = self.kernel.get_message

        def execute_cell_input(cell_input, allow_stdin=None):
            # nbval executes with store_history=False, which also breaks IPython's
            # `;` (no output) and `_`; Jupyter and nbclient store the history.
            self.msg_id = self.kernel.kc.execute(
                cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
            )
            return self.msg_id

        def recording_get_message(stream, timeout=None):
            msg = get_message(stream, timeout=timeout)
            if stream == "iopub":
                self.messages.append(msg)
            return msg

        self.kernel.execute_cell_input = execute_cell_input
        self.kernel.get_message = recording_get_message
        return self

    def __exit__(self, *exc_info):
        del self.kernel.execute_cell_input
        del self.kernel.get_message


class NotebookSaver:
    """Registered by ``--nbval-save-dir``: records nbval's cells and writes the finished notebooks."""

    def __init__(self, directory):
        self.directory = directory
        self.notebooks = {}
        self.written = []

    def pytest_collection_finish(self, session):
        for item in session.items:
            if isinstance(item, IPyNbCell) and item.parent.nodeid not in self.notebooks:
                self.notebooks[item.parent.nodeid] = _ExecutedNotebook(item.parent)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if not isinstance(item, IPyNbCell):
            return (yield)
        notebook = self.notebooks[item.parent.nodeid]
        kernel = item.parent.kernel
        if "language_info" not in notebook.nb.metadata:
            reply = kernel.kc.kernel_info(reply=True, timeout=KERNEL_INFO_TIMEOUT_S)
            notebook.nb.metadata["language_info"] = reply["content"]["language_info"]
        with _KernelRecorder(kernel) as recorder:
            try:
                result = yield
            except pytest.skip.Exception:
                notebook.finished_cells += 1
                raise
            except BaseException:
                notebook.failed = True
                raise
        notebook.record(item.cell, recorder.msg_id, recorder.messages)
        notebook.finished_cells += 1
        return result

    def pytest_sessionfinish(self, session):
        self.directory.mkdir(parents=True, exist_ok=True)
        for notebook in self.notebooks.values():
            if notebook.complete:
                path = self.directory / notebook.name
                nbformat.write(notebook.nb, path)
                self.written.append(path)

    def pytest_terminal_summary(self, terminalreporter):
        kept = ", ".join(sorted(path.name for path in self.written)) or "none"
        terminalreporter.write_line(f"nbval_save: executed notebooks written to {self.directory}: {kept}")
        missed = sorted(nb.name for nb in self.notebooks.values() if not nb.complete)
        if missed:
            terminalreporter.write_line(f"nbval_save: not written (a cell failed or did not run): {', '.join(missed)}")
