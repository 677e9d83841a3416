"""Every user-facing text, in German, in one table."""

from __future__ import annotations

from typing import Final

JOB_NOT_FOUND: Final = "Job nicht gefunden"
NO_PERMISSION: Final = "Keine Berechtigung"
JOB_NOT_FAILED: Final = "Job ist nicht fehlgeschlagen"
JOB_NOT_ACTIVE: Final = "Job ist nicht aktiv"
NOT_AUTHENTICATED: Final = "Nicht angemeldet"
INVALID_LOGIN: Final = "E-Mail oder Passwort ist falsch"
TOO_MANY_LOGINS: Final = "Zu viele Anmeldeversuche. Bitte später erneut versuchen."
CSRF_FAILED: Final = "Sicherheitsprüfung fehlgeschlagen (CSRF). Bitte Seite neu laden."
NOTIFICATION_NOT_FOUND: Final = "Benachrichtigung nicht gefunden"
SETTING_NOT_FOUND: Final = "Einstellung nicht gefunden"
INVALID_INPUT: Final = "Ungültige Eingabe"
BODY_TOO_LARGE: Final = "Anfrage zu groß"
HEADERS_TOO_LARGE: Final = "Kopfzeilen der Anfrage zu groß"
SERVICE_UNAVAILABLE: Final = "Dienst vorübergehend nicht verfügbar. Bitte später erneut versuchen."
INTERNAL_ERROR: Final = "Interner Fehler"
NOT_FOUND: Final = "Nicht gefunden"
METHOD_NOT_ALLOWED: Final = "Methode nicht erlaubt"

JOB_COMPLETED_TITLE: Final = "Vorgang abgeschlossen"
JOB_COMPLETED_MESSAGE: Final = "Der Vorgang „{queue}“ wurde erfolgreich abgeschlossen."
JOB_FAILED_TITLE: Final = "Vorgang fehlgeschlagen"
JOB_FAILED_MESSAGE: Final = "Vorgang fehlgeschlagen. Erneut versuchen?"
JOB_FAILED_ADMIN_TITLE: Final = "Job endgültig fehlgeschlagen"
JOB_FAILED_ADMIN_MESSAGE: Final = "Job {job_id} in Queue „{queue}“ ist fehlgeschlagen: {reason}"
JOB_CANCELLED_TITLE: Final = "Vorgang abgebrochen"
JOB_CANCELLED_MESSAGE: Final = "Der Vorgang „{queue}“ wurde abgebrochen."
JOB_TIMED_OUT: Final = "Zeitüberschreitung: Der Versuch dauerte länger als {limit} s"

# Admin queue dashboard.
QUEUE_NOT_FOUND: Final = "Queue nicht gefunden"
SCHEDULE_NOT_FOUND: Final = "Zeitplan nicht gefunden"
UNKNOWN_JOB_STATE: Final = "Unbekannter Job-Status"
JOB_NOT_DELAYED: Final = "Job ist nicht verzögert"
JOB_LOCKED: Final = "Job wird gerade bearbeitet und kann nicht entfernt werden"
