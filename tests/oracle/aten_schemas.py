#!/usr/bin/python3
"""Prints PyTorch 1.13's ATen schemas for the overload groups named on the command line.

For each GROUP: one line `schema<TAB>TEXT` per schema of aten::GROUP, and one line
`inplace<TAB>GROUP_` when aten::GROUP_ has any schema. TEXT is str(schema) without "aten::",
exactly as torch._C._jit_get_schemas_for_operator gives it. engine_schema_conformance_test
compares the op table against this output, so the expected strings always come from torch.
"""
import sys

import torch


def main(groups):
    for group in groups:
        for schema in torch._C._jit_get_schemas_for_operator("aten::" + group):
            text = str(schema)
            assert text.startswith("aten::"), text
            print("schema\t" + text[len("aten::"):])
        if torch._C._jit_get_schemas_for_operator("aten::" + group + "_"):
            print("inplace\t" + group + "_")


if __name__ == "__main__":
    main(sys.argv[1:])
