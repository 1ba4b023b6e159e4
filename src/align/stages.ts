/**
 * Which teacher stage each student stage learns from. Same count: in order. Different counts: by relative depth,
 * student stage i of Ks (1-based) takes teacher stage round(i * Kt / Ks) of Kt, so the last stages always meet.
 */
export interface StageMatch {
  /** Student stage position (0-based, among the student's stages). */
  readonly student: number;
  /** Teacher stage position (0-based, among the teacher's stages). */
  readonly teacher: number;
}

export function matchStages(studentStages: number, teacherStages: number): StageMatch[] {
  if (studentStages < 1 || teacherStages < 1) {
    throw new Error(`matchStages: both models need at least one stage (student ${studentStages}, teacher ${teacherStages})`);
  }
  return Array.from({ length: studentStages }, (_, i) => {
    const teacher =
      studentStages === teacherStages ? i : Math.min(teacherStages, Math.max(1, Math.round(((i + 1) * teacherStages) / studentStages))) - 1;
    return { student: i, teacher };
  });
}

/** A one-line description for run configs: "s0->t0, s1->t2, ...". */
export function describeMatch(match: readonly StageMatch[]): string {
  return match.map((m) => `s${m.student}->t${m.teacher}`).join(', ');
}
