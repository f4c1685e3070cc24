"""The .pyi stub describes exactly the module's public names."""

import ast
import os
import unittest

import timefuture as tf

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                    "timefuture.pyi")


def _stub_names(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target,
                                                            ast.Name):
            names[node.target.id] = node
    return names


class StubTest(unittest.TestCase):
    def setUp(self):
        with open(STUB, encoding="utf-8") as f:
            self.tree = ast.parse(f.read(), STUB)
        self.names = _stub_names(self.tree)

    def test_every_public_name_is_in_the_stub_and_back(self):
        public = {n for n in dir(tf) if not n.startswith("_")}
        stubbed = {n for n in self.names if not n.startswith("_")}
        self.assertEqual(public, stubbed)
        self.assertIn("__version__", self.names)
        self.assertTrue(hasattr(tf, "__version__"))

    def test_class_members_match(self):
        for name, node in self.names.items():
            if not isinstance(node, ast.ClassDef):
                continue
            cls = getattr(tf, name)
            stub_members = {
                n.name for n in node.body
                if isinstance(n, ast.FunctionDef) and not
                (n.name.startswith("_") and n.name not in ("__enter__",
                                                          "__exit__"))
            } | {
                n.target.id for n in node.body
                if isinstance(n, ast.AnnAssign)
            }
            with self.subTest(cls=name):
                for member in stub_members:
                    self.assertTrue(hasattr(cls, member), member)
                real = {m for m, v in vars(cls).items()
                        if not m.startswith("_") or m in ("__enter__",
                                                          "__exit__")}
                self.assertLessEqual(real, stub_members | {"__enter__",
                                                           "__exit__"})

    def test_stub_has_docstrings(self):
        for name, node in self.names.items():
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                with self.subTest(name=name):
                    self.assertTrue(ast.get_docstring(node))


if __name__ == "__main__":
    unittest.main()
