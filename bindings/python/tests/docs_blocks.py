# SPDX-License-Identifier: MIT
"""The examples of docs/python.md, for the tests that run them as written,
so that the page cannot drift from the binding."""

import os

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                    "docs", "python.md")


def python_block(heading):
    """The source of the first ```python block after `heading` on the page
    (compile it with PAGE as its file name, for tracebacks into the page)."""
    with open(PAGE, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index(heading):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```", start)]
