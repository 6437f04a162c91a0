from ponder.types import CompletionRequest, Message, ToolSpec, Usage


def req(**kw):
    return CompletionRequest(messages=(Message.system("s"), Message.user("What is 2+2?")), **kw)


def test_key_is_stable_and_sensitive():
    assert req().key() == req().key()
    assert req(temperature=0.7).key() != req().key()
    assert req(n=3).key() != req().key()
    assert req(tools=(ToolSpec(name="calculator"),)).key() != req().key()
    other = CompletionRequest(messages=(Message.system("s"), Message.user("What is 2+3?")))
    assert other.key() != req().key()


def test_key_known_value_does_not_drift():
    # the key is what recordings are matched by: changing its recipe breaks every recording
    assert req().key() == CompletionRequest.model_validate(req().canonical()).key()
    assert len(req().key()) == 32


def test_usage_adds():
    assert (
        Usage(prompt_tokens=1, completion_tokens=2) + Usage(prompt_tokens=3, completion_tokens=4)
    ).total_tokens == 10
