"""The public API of DESIGN.md: names exported by the package are the functions, not submodules."""


def test_public_api_names_stay_functions_after_submodules_load():
    import digitdnn
    import digitdnn.training  # noqa: F401  (a submodule named like an export would shadow it)

    assert callable(digitdnn.train) and digitdnn.train.__name__ == "train"
    assert digitdnn.to_mnist.__name__ == "to_mnist"
    assert digitdnn.load_classifier.__name__ == "load_classifier"
