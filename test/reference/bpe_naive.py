"""Naive byte-level BPE merge learner: the reference for src/model/bpe-trainer.ts's learnMerges.

Reads JSON from stdin: {"words": [[[byte, ...], count], ...], "numMerges": int, "minFrequency": int,
"firstMergeId": int}. Every step recounts all adjacent pairs from scratch (no incremental updates),
picks the largest count, ties to the smallest (left id, right id), stops below minFrequency, and
merges occurrences left to right without overlap. Writes {"merges": [[left, right], ...]}.
"""
import json
import sys


def merge_word(word, left, right, new_id):
    out = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def main():
    spec = json.load(sys.stdin)
    words = [(list(symbols), count) for symbols, count in spec["words"]]
    merges = []
    while len(merges) < spec["numMerges"]:
        counts = {}
        for symbols, count in words:
            for pair in zip(symbols, symbols[1:]):
                counts[pair] = counts.get(pair, 0) + count
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        if counts[best] < spec["minFrequency"]:
            break
        new_id = spec["firstMergeId"] + len(merges)
        merges.append(list(best))
        words = [(merge_word(symbols, best[0], best[1], new_id), count) for symbols, count in words]
    json.dump({"merges": merges}, sys.stdout)


if __name__ == "__main__":
    main()
