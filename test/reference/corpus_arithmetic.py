"""Reference for scripts/corpus/domains/arithmetic.ts: exact values of the corpus's expressions.

Usage: /usr/bin/python3 corpus_arithmetic.py IN.json OUT.json
IN is a JSON list of expression strings ("(12 + 7) * 3"). For each, OUT holds
[numerator, denominator, stated, tool]: the exact value in lowest terms (Fraction), the answer as
the corpus states it (exact when it has at most 2 decimals, else rounded half away from zero to 2
decimals) and the calculator tool's text (12 significant digits, shortest form).

The expressions are parsed with `ast` and only numbers, + - * / and parentheses are evaluated;
nothing is passed to eval.
"""
import ast
import json
import sys
from fractions import Fraction

OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def value(node):
    if isinstance(node, ast.Expression):
        return value(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](value(node.left), value(node.right))
    raise ValueError("not corpus arithmetic: %s" % ast.dump(node))


def stated(v):
    if (v * 100).denominator == 1:
        # At most 2 decimals: print exactly, without trailing zeros ("1.5", "444").
        text = "%.2f" % v
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return "0" if text == "-0" else text
    cents = abs(v) * 100
    rounded = int(cents) + (1 if cents - int(cents) >= Fraction(1, 2) else 0)
    sign = "-" if v < 0 else ""
    return "%s%d.%02d" % (sign, rounded // 100, rounded % 100)


def tool_text(v):
    x = float("%.12g" % float(v))
    if x == int(x):
        return str(int(x))
    return repr(x)


def main():
    with open(sys.argv[1]) as f:
        expressions = json.load(f)
    out = []
    for text in expressions:
        v = value(ast.parse(text, mode="eval"))
        out.append([v.numerator, v.denominator, stated(v), tool_text(v)])
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
