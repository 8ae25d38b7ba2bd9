"""The public API (the names `digitdnn/__init__.py` exports, listed in README's "Library" section): each stays
the function it names after the submodule of the same name is imported, rather than being shadowed by that module."""


def test_public_api_names_stay_functions_after_submodules_load():
    import digitdnn
    import digitdnn.training.loop  # noqa: F401  (a submodule named like an export would shadow it)

    assert callable(digitdnn.train) and digitdnn.train.__name__ == "train"
    assert digitdnn.to_mnist.__name__ == "to_mnist"
    assert digitdnn.load_classifier.__name__ == "load_classifier"
