"""SMS backends behind one small interface, chosen by settings.SMS_BACKEND (like EMAIL_BACKEND)."""
