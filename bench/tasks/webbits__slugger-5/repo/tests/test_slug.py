from slugger import slugify, unique_slug


def test_ascii_title():
    assert slugify("Hello, World!") == "hello-world"


def test_custom_separator_and_length():
    assert slugify("a b c d", sep="_") == "a_b_c_d"
    assert slugify("word " * 30, max_length=12) == "word-word-wo"


def test_unique():
    assert unique_slug("Hello", {"hello", "hello-2"}) == "hello-3"
