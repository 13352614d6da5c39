"""Pages: hall display, window display, clerk console; the SSE stream and voice clips."""
