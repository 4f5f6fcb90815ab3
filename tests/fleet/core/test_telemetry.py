from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.core.telemetry import apply_changes, diff_state

entities = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 3)), max_size=4)
docs = st.fixed_dictionaries({
    "vehicles": entities, "containers": entities, "yard": entities, "queues": st.dictionaries(st.sampled_from(["q1", "q2"]), st.integers(0, 5)),
    "clock": st.fixed_dictionaries({"t_s": st.integers(0, 9)}), "kpi": st.dictionaries(st.sampled_from(["k"]), st.integers(0, 3)),
    "blocked": st.fixed_dictionaries({"lanes": st.lists(st.sampled_from(["l1", "l2"]), unique=True)}),
    "alerts": st.lists(st.builds(lambda i: {"id": f"A{i}"}, st.integers(0, 9)), unique_by=lambda a: a["id"], max_size=3),
})


@settings(max_examples=200, deadline=None)
@given(docs, docs)
def test_patch_turns_previous_into_current(prev, cur):
    cur = dict(cur, alerts=prev["alerts"] + [a for a in cur["alerts"] if a not in prev["alerts"]])
    assert apply_changes(prev, diff_state(prev, cur)) == cur


def test_equal_documents_give_no_changes():
    doc = {"vehicles": {"a": {"x": 1}}, "clock": {"t_s": 1}, "alerts": []}
    assert diff_state(doc, doc) == {}
