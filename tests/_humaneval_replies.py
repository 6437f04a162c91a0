"""Model replies to HumanEval/0 that the LATS and Reflexion tests share."""

NEIGHBOURS_CODE = """```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for a, b in zip(numbers, numbers[1:]):
        if abs(a - b) < threshold:
            return True
    return False
```"""
"""Passes HumanEval/0's docstring examples, fails its hidden tests (close numbers need not be neighbours)."""
