// Preloaded into a benchmarked process (node --import): prints its peak resident memory on exit.
process.on('exit', () => process.stderr.write(`\npeak-rss-mb ${process.resourceUsage().maxRSS / 1024}\n`));
