/**
 * A line of /proc/<pid>/stat (Linux, proc(5)), split into fields. The command name (field 2) is in parentheses
 * and may hold spaces and parentheses itself, so the fields are counted from its last ')'.
 */

/** The fields after the command name: index 0 is field 3 (the state: `R`, `S`, `Z`, …), index 11 is utime. */
export function procStatFields(stat: string): string[] {
	return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
