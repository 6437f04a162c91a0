"""A smolagents tool-calling agent, run by the throw-away venv of test_framework_e2e.py (not by pytest).

python smolagents_agent.py BASE_URL   ->   {"answer": "..."} on stdout
"""

import json
import sys

from smolagents import OpenAIServerModel, ToolCallingAgent, tool


@tool
def multiply(a: int, b: int) -> int:
    """Multiplies two integers.

    Args:
        a: the first factor
        b: the second factor
    """
    return a * b


model = OpenAIServerModel(model_id="loopback-model", api_base=sys.argv[1], api_key="sk-agent-key-5150")
agent = ToolCallingAgent(tools=[multiply], model=model, max_steps=4, verbosity_level=0)
print(json.dumps({"answer": str(agent.run("What is 17 * 23?"))}))
