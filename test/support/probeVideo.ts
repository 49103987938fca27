/**
 * What a real player reads in a video: ffprobe (from Debian's ffmpeg package; `.ci/run` installs
 * it) on a file or URL, reduced to duration, picture size and each stream's codec.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface ProbedVideo {
  durationSeconds: number;
  width?: number;
  height?: number;
  /** Codec names as ffprobe gives them, video first: ['h264', 'aac']. */
  codecs: string[];
}

export async function probeVideo(source: string): Promise<ProbedVideo> {
  const { stdout } = await promisify(execFile)('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration:stream=codec_type,codec_name,width,height',
    '-of',
    'json',
    source,
  ]);
  const probed = JSON.parse(stdout) as {
    format: { duration: string };
    streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>;
  };
  const video = probed.streams.find((s) => s.codec_type === 'video');
  const ordered = [...probed.streams].sort((a, b) => Number(b.codec_type === 'video') - Number(a.codec_type === 'video'));
  return { durationSeconds: Number(probed.format.duration), width: video?.width, height: video?.height, codecs: ordered.map((s) => s.codec_name) };
}
