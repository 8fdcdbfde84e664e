"""Forms of the script editor; they only parse input, the lifecycle functions decide."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from scripts_engine.editing import KIND_LABELS, KINDS, NODE_ID, QUESTION_TYPES
from scripts_engine.lifecycle import storable_problem
from scripts_engine.models import Disposition, Script, Specialist
from scripts_engine.samples import SAMPLES

MAX_IMPORT_BYTES = 256 * 1024


def parse_graph_json(text: str) -> dict[str, Any]:
    """A graph from imported JSON text; ``forms.ValidationError`` with a readable reason otherwise."""
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise forms.ValidationError(f"The file is too large (at most {MAX_IMPORT_BYTES // 1024} KB).")
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        raise forms.ValidationError(
            f"This is not valid JSON{where}: {getattr(error, 'msg', error)}."
        ) from None
    if not isinstance(graph, dict):
        raise forms.ValidationError('A script is a JSON object ({...}) with its nodes under "nodes".')
    if not isinstance(graph.get("nodes", {}), dict) or not all(
        isinstance(n, dict) for n in graph.get("nodes", {}).values()
    ):
        raise forms.ValidationError('"nodes" must be an object of nodes, each under its id.')
    graph.setdefault("nodes", {})
    problem = storable_problem(graph)
    if problem:
        raise forms.ValidationError(problem)
    return graph


class ImportMixin(forms.Form):
    json_text = forms.CharField(
        label="Paste JSON", required=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"})
    )
    json_file = forms.FileField(label="…or upload a JSON file", required=False)

    def imported_graph(self) -> dict[str, Any] | None:
        upload = self.cleaned_data.get("json_file")
        text = self.cleaned_data.get("json_text") or ""
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError(f"The file is too large (at most {MAX_IMPORT_BYTES // 1024} KB).")
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        return parse_graph_json(text) if text.strip() else None


class ScriptCreateForm(ImportMixin):
    SOURCES = [("blank", "A blank script"), *[(f"sample:{s}", f"The {s} sample") for s in SAMPLES]]
    SOURCES.append(("import", "Imported JSON"))

    name = forms.CharField(label="Name", max_length=120)
    purpose = forms.ChoiceField(label="Purpose", choices=Script.Purpose.choices)
    source = forms.ChoiceField(label="Start from", choices=SOURCES, initial="blank", widget=forms.RadioSelect)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Script.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError("A script with this name exists already.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("source") == "import":
            try:
                data["graph"] = self.imported_graph()
            except forms.ValidationError as error:
                self.add_error("json_text", error)
                return data
            if data["graph"] is None:
                self.add_error("json_text", "Paste the script's JSON or choose a file.")
        return data


class ImportForm(ImportMixin):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["graph"] = self.imported_graph()
        except forms.ValidationError as error:
            self.add_error("json_text", error)
            return data
        if data["graph"] is None:
            self.add_error("json_text", "Paste the script's JSON or choose a file.")
        return data


class SettingsForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, required=False)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    start = forms.CharField(label="Start node", max_length=64)
    contact_fields = forms.CharField(
        label="Contact fields", required=False, help_text="Separated by commas, e.g. first_name, customer_no."
    )
    dispositions = forms.MultipleChoiceField(
        label="Dispositions this script may end with", required=False, widget=forms.CheckboxSelectMultiple
    )
    specialists = forms.MultipleChoiceField(
        label="Specialists it may transfer to", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dispositions"].choices = [(d.code, str(d)) for d in Disposition.objects.all()]
        self.fields["specialists"].choices = [
            (s.key, f"{s.name} ({s.key}, {s.phone})") for s in Specialist.objects.all()
        ]


class NodeAddForm(forms.Form):
    node_id = forms.CharField(label="New node id", max_length=64)
    kind = forms.ChoiceField(label="Kind", choices=[(k, KIND_LABELS[k]) for k in KINDS])

    def clean_node_id(self) -> str:
        node_id = self.cleaned_data["node_id"].strip()
        if not NODE_ID.match(node_id):
            raise forms.ValidationError("Use letters, digits and _, starting with a letter (at most 64).")
        return node_id


class NodeForm(forms.Form):
    """Every setting a node may have; the editor shows those of the node's kind."""

    text = forms.CharField(label="Text", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    prompt = forms.CharField(
        label="Prompt played to the caller", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    type = forms.ChoiceField(
        label="Answer type", choices=[(t, t.replace("_", " ")) for t in QUESTION_TYPES], required=False
    )
    required = forms.BooleanField(label="An answer is required", required=False)
    options = forms.CharField(
        label="Options (one per line)", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    min = forms.CharField(label="Minimum", required=False, help_text="A number, or a date as YYYY-MM-DD.")
    max = forms.CharField(label="Maximum", required=False)
    integer = forms.BooleanField(label="Whole numbers only", required=False)
    min_length = forms.CharField(label="Minimum length", required=False)
    max_length = forms.CharField(label="Maximum length", required=False)
    pattern = forms.CharField(label="Pattern (regular expression)", required=False)
    cases = forms.CharField(
        label="Cases, tried in order (one per line: condition -> next node)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='e.g. answers.topic == "billing" -> to_billing',
    )
    otherwise = forms.CharField(label="Otherwise go to", required=False)
    auto_options = forms.CharField(
        label="Options (one per line: digits | spoken words | value | next node)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="e.g. 1 | billing, invoice | billing | billing_menu",
    )
    timeout_next = forms.CharField(label="When there is no input, go to", required=False)
    specialist = forms.CharField(label="Specialist", required=False)
    disposition = forms.CharField(label="Disposition", required=False)
    next = forms.CharField(label="Next node", required=False)
    sensitive = forms.BooleanField(
        label="Sensitive: card data is taken here (the call's recording pauses on this step)",
        required=False,
    )
    note = forms.CharField(label="Note for script authors (never shown on calls)", required=False)

    def __init__(self, *args: Any, node_ids: list[str] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        for name in ("next", "otherwise", "timeout_next"):
            self.fields[name].widget.attrs.update(list="node-ids", autocomplete="off")
        self.fields["disposition"].widget.attrs.update(list="disposition-codes", autocomplete="off")
        self.fields["specialist"].widget.attrs.update(list="specialist-keys", autocomplete="off")


class DispositionForm(forms.ModelForm):
    class Meta:
        model = Disposition
        fields = ["code", "label"]


class SpecialistForm(forms.ModelForm):
    class Meta:
        model = Specialist
        fields = ["key", "name", "phone"]
        labels = {"phone": "Phone (international form, +…)"}


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason (the client will read it)", widget=forms.Textarea(attrs={"rows": 3})
    )
