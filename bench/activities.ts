export const marks = new Map<number, () => void>();

export async function noop(): Promise<void> {}

export async function mark(seq: number): Promise<void> {
  marks.get(seq)?.();
}
