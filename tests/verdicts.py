"""A helper the chapters' checker tests share."""


def wrong_message(check, fn) -> str:
    """The hint ``check`` gives for ``fn``, which it must call wrong."""
    result = check(fn, quiet=True)
    assert result.status == "wrong", result
    return result.message
