"""A sync as a tool: run it into the server's store and return the summary, not the
records (a workspace has thousands; the read tools page through them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from loom_scim_connector.host import LocalHost, SyncReport

HELD_SHOWN = 20


class SyncSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sync: str
    status: str = Field(description="success, held (nothing deleted: review), failed")
    run_id: int | None = Field(serialization_alias="runId")
    saved: int
    added: int
    updated: int
    unchanged: int
    deleted: int = Field(description="confirmed gone by the server (404), then marked")
    not_listed: int = Field(
        serialization_alias="notListed", description="not seen in the walk: each looked up"
    )
    recovered: int = Field(description="not listed, yet still there when looked up")
    held: list[str] = Field(description=f"the first {HELD_SHOWN} ids held for review")
    held_total: int = Field(serialization_alias="heldTotal")
    quarantined: int = Field(description="records the server sent that could not be read")
    pages: int
    requests: int
    retries: int
    warnings: list[str]
    note: str | None = None


def summary_of(report: SyncReport, store: str) -> SyncSummary:
    note = None
    if report.status == "held":
        note = (
            f"{len(report.held)} records were not seen in two walks and are kept, none "
            f"deleted; a person reviews them and releases run {report.run_id} with "
            f"`{report.release_command(store)}`"
        )
    return SyncSummary(
        sync=report.sync,
        status=report.status,
        run_id=report.run_id,
        saved=report.saved,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        deleted=report.deleted,
        not_listed=report.candidates,
        recovered=report.recovered,
        held=report.held[:HELD_SHOWN],
        held_total=len(report.held),
        quarantined=len(report.quarantined),
        pages=report.pages,
        requests=report.requests,
        retries=report.retries,
        warnings=report.warnings,
        note=note,
    )


async def run_sync(host: LocalHost, name: str, store: str) -> SyncSummary:
    return summary_of(await host.run_sync(name), store)
