/**
 * Counts the event loop's turns (one setImmediate after another) until `stop()`: how a test
 * tells work that runs off the main thread, or in steps, from work that holds the thread until
 * it is done (which lets no turn through).
 */
export function countTurns(): { stop(): number } {
  let turns = 0;
  let stopped = false;
  const count = (): void => {
    if (stopped) return;
    turns++;
    setImmediate(count);
  };
  setImmediate(count);
  return {
    stop() {
      stopped = true;
      return turns;
    },
  };
}
