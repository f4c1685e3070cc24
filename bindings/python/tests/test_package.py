# SPDX-License-Identifier: MIT
"""The package's layout: `timefuture` re-exports exactly the public names of
its extension `timefuture._timefuture`, whose stub sits beside it with a
docstring on every definition. (mypy's stubtest, the packaging test
python_stubtest, checks that the stub agrees with the extension.)"""

import ast
import os
import unittest

import timefuture
import timefuture._timefuture as ext
import timefuture._timeout as _timeout


class PackageTest(unittest.TestCase):
    def test_the_extension_is_the_private_submodule(self):
        self.assertEqual(ext.__name__, "timefuture._timefuture")
        self.assertEqual(os.path.dirname(ext.__file__),
                         os.path.dirname(timefuture.__file__))

    def test_all_is_every_public_name_of_the_extension(self):
        # ... and of the timeout module, composed in Python over it.
        public = {n for n in dir(ext) if not n.startswith("_")}
        public.add("__version__")
        self.assertEqual(set(timefuture.__all__), public | set(_timeout.__all__))
        self.assertEqual(len(timefuture.__all__), len(set(timefuture.__all__)))
        for name in timefuture.__all__:
            source = _timeout if name in _timeout.__all__ else ext
            self.assertIs(getattr(timefuture, name), getattr(source, name), name)

    def test_stub_and_marker_beside_the_extension(self):
        here = os.path.dirname(ext.__file__)
        self.assertTrue(os.path.isfile(os.path.join(here, "py.typed")))
        self.assertTrue(os.path.isfile(os.path.join(here, "_timefuture.pyi")))

    def test_stub_has_docstrings(self):
        stub = os.path.join(os.path.dirname(ext.__file__), "_timefuture.pyi")
        with open(stub, encoding="utf-8") as f:
            tree = ast.parse(f.read(), stub)
        self.assertTrue(ast.get_docstring(tree))
        checked = 0
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                checked += 1
                with self.subTest(name=node.name):
                    self.assertTrue(ast.get_docstring(node))
        self.assertGreater(checked, 20)


if __name__ == "__main__":
    unittest.main()
