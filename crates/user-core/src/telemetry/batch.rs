//! A log writer that batches lines in memory and writes them out from a thread of its own, a
//! few milliseconds at a time.
//!
//! Why not a queue with a writer thread per line (tracing-appender's `non_blocking`): under load
//! that thread is woken for nearly every line, and a wakeup and the context switches around it
//! cost more than the line (perf: the writer thread took 11 % of the service's CPU, most of it
//! in `finish_task_switch`). Here a line is a `memcpy` under a mutex; the writer is woken once,
//! when the buffer turns non-empty, waits [`GATHER`] for more lines, then writes everything in
//! one call. Nothing is dropped: past [`MAX_PENDING`] bytes, writers wait for the write-out.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer gathers lines after the first one before writing them out.
pub const GATHER: Duration = Duration::from_millis(5);

/// Bytes waiting to be written past which a logging thread waits for the write-out.
pub const MAX_PENDING: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// Set by [`BatchWriter::finish`]: write what is left and stop.
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// The writer thread waits here for lines (or for `closing`).
    has_lines: Condvar,
    /// Logging threads wait here when `pending` is full.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The handle kept by the process: clones of [`BatchWriter::line_sink`] go to the subscriber.
pub struct BatchWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the writer thread (named `thread_name`) over `out`.
    pub fn start<W: Write + Send + 'static>(
        mut out: W,
        thread_name: &str,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            has_lines: Condvar::new(),
            drained: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                let mut batch = Vec::new();
                loop {
                    let mut state = worker.lock();
                    while state.pending.is_empty() && !state.closing {
                        state = worker
                            .has_lines
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    if !state.closing {
                        // Let the lines of the next few milliseconds join this write.
                        drop(state);
                        std::thread::sleep(GATHER);
                        state = worker.lock();
                    }
                    std::mem::swap(&mut batch, &mut state.pending);
                    let closing = state.closing;
                    drop(state);
                    // Nowhere to report a failed write of the log itself: the lines are lost,
                    // as they would be with any writer.
                    let _ = out.write_all(&batch).and_then(|()| out.flush());
                    batch.clear();
                    worker.drained.notify_all();
                    if closing && worker.lock().pending.is_empty() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// What the subscriber writes lines to.
    pub fn line_sink(&self) -> LineSink {
        LineSink {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Writes out what is left and stops the thread. Lines written later are kept in memory
    /// and never written.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.has_lines.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BatchWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A cheap handle that appends whole lines to the batch ([`tracing_subscriber`]'s fmt layer
/// writes each event with one `write_all`).
#[derive(Clone)]
pub struct LineSink {
    shared: Arc<Shared>,
}

impl Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        while state.pending.len() >= MAX_PENDING && !state.closing {
            self.shared.has_lines.notify_one();
            state = self
                .shared
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(buf);
        drop(state);
        if was_empty {
            self.shared.has_lines.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LineSink {
    type Writer = LineSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A sink the test can read, which records each write-out.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            *self.writes.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn every_line_of_every_thread_arrives_whole_and_in_order() {
        let recorder = Recorder::default();
        let writer = BatchWriter::start(recorder.clone(), "log-test").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut sink = writer.line_sink();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        sink.write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        writer.finish();
        let text = String::from_utf8(recorder.bytes.lock().unwrap().clone()).unwrap();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 4, "a torn line: {line:?}");
            let t: usize = words[1].parse().unwrap();
            let i: usize = words[3].parse().unwrap();
            assert_eq!(i, next[t], "thread {t} out of order");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4], "lines were lost");
        let writes = *recorder.writes.lock().unwrap();
        assert!(
            writes < 20_000 / 10,
            "{writes} write-outs for 20 000 lines: not batched"
        );
    }

    /// Takes a while for each write-out.
    struct Slow(Recorder);
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(50));
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    #[test]
    fn finish_writes_the_lines_that_came_during_a_write_out() {
        let recorder = Recorder::default();
        let writer = BatchWriter::start(Slow(recorder.clone()), "log-test").unwrap();
        let mut sink = writer.line_sink();
        sink.write_all(b"first\n").unwrap();
        std::thread::sleep(GATHER * 4); // the writer is inside the slow write of "first"
        sink.write_all(b"second\n").unwrap();
        writer.finish();
        assert_eq!(&*recorder.bytes.lock().unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn a_full_buffer_makes_the_logger_wait_instead_of_dropping() {
        let recorder = Recorder::default();
        let writer = BatchWriter::start(Slow(recorder.clone()), "log-test").unwrap();
        let mut sink = writer.line_sink();
        let chunk = vec![b'x'; MAX_PENDING / 4];
        let started = Instant::now();
        for _ in 0..12 {
            sink.write_all(&chunk).unwrap();
        }
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "three buffers' worth went in without waiting for a write-out"
        );
        writer.finish();
        assert_eq!(recorder.bytes.lock().unwrap().len(), 12 * chunk.len());
    }

    #[test]
    fn an_idle_writer_does_not_write() {
        let recorder = Recorder::default();
        let writer = BatchWriter::start(recorder.clone(), "log-test").unwrap();
        std::thread::sleep(GATHER * 4);
        assert_eq!(*recorder.writes.lock().unwrap(), 0);
        writer.finish();
    }
}
