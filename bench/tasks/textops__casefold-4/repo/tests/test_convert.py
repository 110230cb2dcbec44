from casefold import to_camel, to_kebab, to_snake


def test_snake_from_camel():
    assert to_snake("userName") == "user_name"


def test_kebab():
    assert to_kebab("some_value") == "some-value"


def test_camel():
    assert to_camel("user_name") == "userName"
