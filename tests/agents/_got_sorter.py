"""A scripted model for Graph of Thoughts on sorting: it reads the official prompts and answers them,
sorting a little wrong on purpose (`drop`: that many trailing numbers left out) so scores differ."""

from __future__ import annotations

import json
import re

from ponder.types import CompletionRequest


def sorter(drop: int = 1):
    def respond(req: CompletionRequest) -> str | list[str]:
        p = req.messages[-1].content
        if "<Instruction> Split the following list" in p:
            nums = json.loads(p.rsplit("Input: ", 1)[1])
            k = len(nums) // 16
            return json.dumps({f"List {i + 1}": nums[16 * i : 16 * (i + 1)] for i in range(k)})
        if "Merge the following" in p:
            a = json.loads(re.search(r"\n1: (\[.*?\])", p).group(1))  # type: ignore[union-attr]
            b = json.loads(re.search(r"\n2: (\[.*?\])", p).group(1))  # type: ignore[union-attr]
            return str(sorted(a + b))
        if "Incorrectly Sorted:" in p:
            inp = re.findall(r"Input: (\[.*?\])", p)[-1]
            return "Reason: fixed.\nOutput: " + str(sorted(json.loads(inp)))
        nums = sorted(json.loads(p.rsplit("Input: ", 1)[1].strip()))
        return "Output: " + str(nums[: len(nums) - drop] if drop else nums)

    return respond
