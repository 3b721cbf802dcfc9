"""SDK verification: any client of the API, in any language, judged against the emulator."""
