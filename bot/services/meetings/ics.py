"""Calendar files (.ics, RFC 5545) for a confirmed or cancelled meeting.

One UID per meeting, so a calendar replaces the event it already holds; SEQUENCE grows
with every change, so the newer file wins. Times are written in UTC."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from icalendar import Calendar, Event

PRODID = "-//Nastavnik//Mentoring bot//RU"
UID_DOMAIN = "nastavnik.bot"


@dataclass(frozen=True, slots=True)
class IcsFile:
    filename: str
    content: str

    @property
    def data(self) -> bytes:
        return self.content.encode("utf-8")


def meeting_uid(meeting_id: int) -> str:
    return f"meeting-{meeting_id}@{UID_DOMAIN}"


def meeting_ics(
    *,
    meeting_id: int,
    starts_at: dt.datetime,
    duration_minutes: int,
    summary: str,
    description: str,
    location: str | None,
    sequence: int,
    now: dt.datetime,
    cancelled: bool = False,
) -> IcsFile:
    """METHOD:REQUEST for a meeting that stands, METHOD:CANCEL for a cancelled one."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", meeting_uid(meeting_id))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", starts_at.astimezone(dt.UTC))
    event.add("dtend", (starts_at + dt.timedelta(minutes=duration_minutes)).astimezone(dt.UTC))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return IcsFile(f"meeting-{meeting_id}.ics", calendar.to_ical().decode("utf-8"))
