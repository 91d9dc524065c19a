"""The ``executed-code`` directive: Python run when the page is built, shown with what it
printed and the figures it drew, for prose pages that are not gallery examples.

The blocks of one page share one namespace, in order (as the cells of a notebook). Each
block's code is shown, then its standard output (if any), then every matplotlib figure it
left open, saved as PNG under ``<outdir>/../executed/`` and closed. An exception fails the
build (``make docs`` treats warnings as errors; an error in an example must not pass
silently).
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class ExecutedCode(SphinxDirective):
    has_content = True

    def run(self):
        code = "\n".join(self.content)
        spaces = self.env.temp_data.setdefault("executed_code", {})
        namespace = spaces.setdefault(self.env.docname, {"__name__": "__executed__"})
        count = spaces.setdefault(("count", self.env.docname), [0])
        import matplotlib.pyplot as plt

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<{self.env.docname}: executed-code>", "exec"), namespace)
        result = [nodes.literal_block(code, code, language="python")]
        if out.getvalue().strip():
            text = out.getvalue().rstrip()
            result.append(nodes.paragraph("", "Output:"))
            result.append(nodes.literal_block(text, text, language="text"))
        folder = Path(self.env.app.outdir).parent / "executed"
        folder.mkdir(parents=True, exist_ok=True)
        for number in plt.get_fignums():
            count[0] += 1
            path = folder / f"{self.env.docname.replace('/', '_')}_{count[0]}.png"
            plt.figure(number).savefig(path, dpi=100)
            plt.close(number)
            # A path starting with "/" is relative to the source folder (as matplotlib's
            # plot directive writes its figures outside it).
            uri = "/" + os.path.relpath(path, self.env.srcdir).replace(os.sep, "/")
            result.append(nodes.image(uri=uri, alt="figure drawn by the code above"))
        return result


def setup(app):
    app.add_directive("executed-code", ExecutedCode)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
