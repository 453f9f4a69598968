// A duration as people read it ("1 min 5 s"): call titles and report cells use the same wording.
export function formatDuration(s: number): string {
  const total = Math.round(s);
  const h = Math.floor(total / 3600),
    m = Math.floor((total % 3600) / 60),
    sec = total % 60;
  return h ? `${h} h ${m} min ${sec} s` : m ? `${m} min ${sec} s` : `${sec} s`;
}
