"""What the tests share: building the app, test data, scripted providers and the steps of a
checkout, a console session or a reconciliation day. No test module imports another; a piece
two of them need lives here (``tests/unit/test_test_layout.py`` keeps it so)."""
