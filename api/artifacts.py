"""dbt's artifacts in the target folder (manifest.json, run_results.json, catalog.json, sources.json):
read once and re-read when the file changes; and the definitions of models, tests, sources, lineage and
source freshness the API builds from them."""

from __future__ import annotations

import json
import threading
from enum import StrEnum
from pathlib import Path
from typing import Any

from api.schemas import Column, DataTestDefinition, Freshness, LineageEdge, LineageNode, ModelDefinition
from core.errors import EltError


class Artifact(StrEnum):
    """The four artifacts the API serves; no other file name is ever looked up."""

    manifest = "manifest"
    run_results = "run_results"
    catalog = "catalog"
    sources = "sources"


class ArtifactMissing(EltError):
    """The artifact has not been written yet (no build yet, or no `dbt docs generate`)."""


HOW_TO_MAKE = {
    Artifact.manifest: "run `elt build` or `elt run`",
    Artifact.run_results: "run `elt build` or `elt run`",
    Artifact.catalog: "run `elt run` or `dbt docs generate`",
    Artifact.sources: "run `elt build` or `elt run` (each runs `dbt source freshness` after publishing)",
}


class ArtifactStore:
    """The target folder's artifacts, parsed and cached by (mtime, size)."""

    def __init__(self, target_path: Path):
        self.target_path = Path(target_path)
        self._cache: dict[Artifact, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def path(self, artifact: Artifact) -> Path:
        """The artifact's file (the name comes from the enum, never from the client)."""
        return self.target_path / f"{Artifact(artifact).value}.json"

    def load(self, artifact: Artifact) -> dict[str, Any]:
        """The parsed artifact; raises ArtifactMissing if it has not been written."""
        path = self.path(artifact)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ArtifactMissing(f"{path.name} has not been written yet: {HOW_TO_MAKE[artifact]}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(artifact)
            if cached and cached[0] == stamp:
                return cached[1]
        data = json.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            self._cache[artifact] = (stamp, data)
        return data

    def optional(self, artifact: Artifact) -> dict[str, Any]:
        """The parsed artifact, or {} when it has not been written."""
        try:
            return self.load(artifact)
        except ArtifactMissing:
            return {}


def manifest_nodes(manifest: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The manifest's nodes of one resource type (model, test, unit_test, source, seed), by unique_id."""
    if resource_type == "source":
        return dict(manifest.get("sources", {}))
    if resource_type == "unit_test":
        return dict(manifest.get("unit_tests", {}))
    return {uid: node for uid, node in manifest.get("nodes", {}).items() if node.get("resource_type") == resource_type}


def find_node(manifest: dict[str, Any], resource_type: str, name_or_id: str) -> dict[str, Any] | None:
    """A node by unique_id or by name."""
    nodes = manifest_nodes(manifest, resource_type)
    if name_or_id in nodes:
        return nodes[name_or_id]
    return next((node for node in nodes.values() if node.get("name") == name_or_id), None)


def columns(node: dict[str, Any], catalog_entry: dict[str, Any] | None) -> list[Column]:
    """The node's documented columns, typed from the catalog where it has them; then undocumented ones."""
    typed = {name.lower(): col.get("type") for name, col in (catalog_entry or {}).get("columns", {}).items()}
    result = [
        Column(
            name=name,
            description=col.get("description") or "",
            data_type=typed.get(name.lower()) or col.get("data_type"),
        )
        for name, col in node.get("columns", {}).items()
    ]
    documented = {c.name.lower() for c in result}
    result += [
        Column(name=name, description="", data_type=kind) for name, kind in typed.items() if name not in documented
    ]
    return result


def tests_of(manifest: dict[str, Any], unique_id: str) -> list[str]:
    """unique_ids of the data tests and unit tests about one model."""
    found = [
        uid
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "test"
        and (node.get("attached_node") == unique_id or unique_id in node.get("depends_on", {}).get("nodes", []))
    ]
    model_name = unique_id.split(".")[-1]
    found += [uid for uid, node in manifest.get("unit_tests", {}).items() if node.get("model") == model_name]
    return sorted(found)


def _without_tests(ids: list[str]) -> list[str]:
    return sorted(uid for uid in ids if not uid.startswith(("test.", "unit_test.")))


def model_definition(manifest: dict[str, Any], catalog: dict[str, Any], node: dict[str, Any]) -> ModelDefinition:
    """A model's definition: description, columns, SQL, parents/children (tests apart)."""
    uid = node["unique_id"]
    return ModelDefinition(
        description=node.get("description") or "",
        database=node.get("database"),
        schema_name=node.get("schema") or "",
        relation_name=node.get("relation_name"),
        materialized=node.get("config", {}).get("materialized") or "",
        tags=list(node.get("tags") or []),
        original_file_path=node.get("original_file_path") or "",
        raw_code=node.get("raw_code") or "",
        compiled_code=node.get("compiled_code"),
        columns=columns(node, catalog.get("nodes", {}).get(uid)),
        parents=_without_tests(manifest.get("parent_map", {}).get(uid, [])),
        children=_without_tests(manifest.get("child_map", {}).get(uid, [])),
        tests=tests_of(manifest, uid),
    )


def data_test_definition(manifest: dict[str, Any], node: dict[str, Any]) -> DataTestDefinition:
    """A data test's or unit test's definition: its kind, the model and column it is about, its severity."""
    nodes = manifest.get("nodes", {})
    if node.get("resource_type") == "unit_test":
        return DataTestDefinition(
            test_type="unit",
            test_name=node.get("name") or "",
            attached_model=node.get("model"),
            column_name=None,
            severity="error",
            description=node.get("description") or "",
            depends_on=list(node.get("depends_on", {}).get("nodes", [])),
        )
    depends = list(node.get("depends_on", {}).get("nodes", []))
    attached = node.get("attached_node") or (depends[0] if len(depends) == 1 else None)
    metadata = node.get("test_metadata") or {}
    return DataTestDefinition(
        test_type="generic" if metadata else "singular",
        test_name=metadata.get("name") or node.get("name") or "",
        attached_model=nodes.get(attached, {}).get("name") if attached else None,
        column_name=node.get("column_name"),
        severity=str(node.get("config", {}).get("severity") or "error").lower(),
        description=node.get("description") or "",
        depends_on=depends,
    )


def lineage(manifest: dict[str, Any], start: str | None) -> tuple[list[LineageNode], list[LineageEdge]]:
    """Nodes and edges of the graph (tests left out): all of it, or `start` with its ancestors and descendants."""
    parents = {uid: _without_tests(ids) for uid, ids in manifest.get("parent_map", {}).items()}
    children = {uid: _without_tests(ids) for uid, ids in manifest.get("child_map", {}).items()}
    known = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    if start is None:
        keep = {uid for uid in known if not uid.startswith(("test.", "unit_test."))}
    else:
        keep = {start} | _reach(start, parents) | _reach(start, children)
    nodes = [
        LineageNode(
            unique_id=uid, name=known[uid].get("name") or uid, resource_type=known[uid].get("resource_type") or ""
        )
        for uid in sorted(keep)
        if uid in known
    ]
    edges = [
        LineageEdge(parent=parent, child=child)
        for child in sorted(keep)
        for parent in parents.get(child, [])
        if parent in keep
    ]
    return nodes, edges


# dbt's freshness periods in seconds.
PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def freshness_results(sources_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """sources.json's results by unique_id ({} when sources.json has not been written)."""
    return {result["unique_id"]: result for result in sources_json.get("results", []) if "unique_id" in result}


def _seconds(threshold: dict[str, Any] | None) -> float | None:
    """dbt's `{count: 36, period: hour}` in seconds (129600.0); None when not set."""
    threshold = threshold or {}
    count, period = threshold.get("count"), threshold.get("period")
    return float(count * PERIOD_SECONDS[period]) if count is not None and period in PERIOD_SECONDS else None


def source_freshness(node: dict[str, Any], checked: dict[str, Any] | None) -> Freshness:
    """A source's freshness: dbt's result `checked` (its entry in sources.json; None: `never_checked`) for a
    source whose manifest `node` declares warn_after or error_after; else `not_tracked`. A `runtime error`
    carries dbt's message and the declared thresholds (dbt applied none)."""
    declared = node.get("freshness") or {}
    warn, error = _seconds(declared.get("warn_after")), _seconds(declared.get("error_after"))
    if warn is None and error is None:
        return Freshness(
            status="not_tracked",
            max_loaded_at=None,
            snapshotted_at=None,
            age_seconds=None,
            warn_after_seconds=None,
            error_after_seconds=None,
        )
    if checked is None:
        return Freshness(
            status="never_checked",
            max_loaded_at=None,
            snapshotted_at=None,
            age_seconds=None,
            warn_after_seconds=warn,
            error_after_seconds=error,
        )
    criteria = checked.get("criteria")  # the thresholds dbt applied; a runtime error has none: the declared ones
    return Freshness(
        status=checked.get("status"),
        max_loaded_at=checked.get("max_loaded_at"),
        snapshotted_at=checked.get("snapshotted_at"),
        age_seconds=checked.get("max_loaded_at_time_ago_in_s"),
        warn_after_seconds=_seconds(criteria.get("warn_after")) if criteria else warn,
        error_after_seconds=_seconds(criteria.get("error_after")) if criteria else error,
        message=checked.get("error"),
    )


def _reach(start: str, step: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(step.get(start, []))
    while todo:
        uid = todo.pop()
        if uid not in seen:
            seen.add(uid)
            todo.extend(step.get(uid, []))
    return seen
