"""scikit-learn's common checks for the video estimators; not a test module itself.

The estimators' true tags say that their input is videos (``input_tags.two_d_array=False``); with
them scikit-learn 1.9 yields ``check_estimator_cloneable`` and skips every other check. So that the
checks that need no data (repr, get/set_params, init, unfitted errors, mixin order, ...) still run,
the tests run them on a test-only subclass that claims 2-D input. The checks that feed a table
then fail, each for a reason listed in ``expected_failures``.
"""

import warnings

from sklearn.utils.estimator_checks import check_estimator

_NOT_A_VIDEO = ("feeds a 2-D table, which the estimator rejects: "
                "'X must be an array (n_videos, T, H, W) or (n_videos, T, H, W, C), ...'")

# Checks that feed a table and look for scikit-learn's own words for one defect of it; the
# estimator's 'X must be ... videos' error comes first, so the words are not there.
_OWN_WORDS = {
    "check_complex_data": "complex numbers ('Complex data not supported')",
    "check_estimators_empty_data_messages": "an empty table ('0 sample(s)')",
    "check_estimators_nan_inf": "NaN and inf in a table",
    "check_estimator_sparse_array": "a sparse array ('sparse')",
    "check_estimator_sparse_matrix": "a sparse matrix ('sparse')",
    "check_estimator_sparse_tag": "a sparse matrix (the sparse tag says it is refused)",
    "check_fit2d_1sample": "a table of one sample",
    "check_fit2d_1feature": "a table of one feature",
    "check_positive_only_tag_during_fit": "negative values (positive_only is False)",
    "check_classifiers_one_label": "a single class in y",
    "check_classifiers_regression_target": "a continuous y ('Unknown label type')",
    "check_requires_y_none": "y=None ('requires y')",
}

# Checks that feed a table and fail on the 'X must be ... videos' error itself.
_TABLE_INPUT = [
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)", "check_f_contiguous_array_estimator",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
    "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_readonly_memmap_input",
]
_TABLE_INPUT_TRANSFORMER = [
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_general(readonly_memmap=True)", "check_transformer_n_iter",
    "check_transformer_preserve_dtypes",
]
_TABLE_INPUT_CLASSIFIER = [
    "check_classifier_data_not_an_array", "check_classifier_multioutput",
    "check_classifiers_classes", "check_classifiers_train",
    "check_classifiers_train(readonly_memmap=True)",
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
    "check_decision_proba_consistency", "check_non_transformer_estimators_n_iter",
    "check_supervised_y_2d",
]
_CLASSIFIER_ONLY = {"check_classifiers_one_label", "check_classifiers_regression_target",
                    "check_requires_y_none"}


def table_tagged(cls):
    """A subclass of the estimator ``cls`` that claims 2-D input, for the common checks only."""

    class TableTagged(cls):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = True
            return tags

    TableTagged.__name__ = TableTagged.__qualname__ = f"_TableTagged{cls.__name__}"
    return TableTagged


def expected_failures(kind: str) -> dict[str, str]:
    """Check name -> why it fails, for ``kind`` "transformer" or "classifier"."""
    names = _TABLE_INPUT + (_TABLE_INPUT_TRANSFORMER if kind == "transformer"
                            else _TABLE_INPUT_CLASSIFIER)
    reasons = {name: _NOT_A_VIDEO for name in names}
    for name, words in _OWN_WORDS.items():
        if kind == "classifier" or name not in _CLASSIFIER_ONLY:
            reasons[name] = (f"feeds a table and expects scikit-learn's error for {words}; "
                             "the estimator's 'X must be ... videos' error comes first")
    return reasons


def checks_run_with_true_tags(estimator) -> list[tuple[str, str]]:
    """(check name, status) of every common check scikit-learn runs on ``estimator`` as it is."""
    return [(result["check_name"], result["status"])
            for result in check_estimator(estimator, on_fail=None)]


def assert_video_tags(estimator):
    """The estimator's true tags say videos (no 2-D table, no NaN), and with them scikit-learn
    runs only the clone check."""
    tags = estimator.__sklearn_tags__()
    assert tags.input_tags.two_d_array is False
    assert tags.input_tags.allow_nan is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SkipTestWarning: "Can't test estimator ..."
        assert checks_run_with_true_tags(estimator) == [("check_estimator_cloneable", "passed")]
