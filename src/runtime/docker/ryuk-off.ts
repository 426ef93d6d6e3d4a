/**
 * Must be evaluated before testcontainers is: Ryuk (testcontainers' reaper) is an image that would have to
 * be pulled, and with no registry every start would fail. meshbox reaps its own containers (./reaper.ts).
 * Imported first by ./testcontainers.ts, the only module that imports testcontainers.
 */
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
