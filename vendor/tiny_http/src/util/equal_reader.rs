use std::io::Read;
use std::io::Result as IoResult;

/// A `Reader` that reads exactly the number of bytes from a sub-reader.
///
/// If the limit is reached, it returns EOF. If the limit is not reached
/// when the destructor is called, the remaining bytes will be read and
/// thrown away.
pub struct EqualReader<R>
where
    R: Read,
{
    reader: R,
    size: usize,
    // wfhook patch: what an unread remainder may cost on drop
    closer: Option<crate::connection::Connection>,
    max_drain: usize,
    drain_timeout: std::time::Duration,
    io_timeout: std::time::Duration,
}

impl<R> EqualReader<R>
where
    R: Read,
{
    pub fn new(
        reader: R,
        size: usize,
        closer: Option<crate::connection::Connection>,
        max_drain: usize,
        drain_timeout: std::time::Duration,
        io_timeout: std::time::Duration,
    ) -> EqualReader<R> {
        // wfhook patch: upstream also returned a channel that told when the
        // drain ended; nothing listened to it.
        EqualReader { reader, size, closer, max_drain, drain_timeout, io_timeout }
    }
}

impl<R> Read for EqualReader<R>
where
    R: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if self.size == 0 {
            return Ok(0);
        }

        let buf = if buf.len() < self.size {
            buf
        } else {
            &mut buf[..self.size]
        };

        match self.reader.read(buf) {
            // wfhook patch: upstream ended the body quietly when the stream
            // ended before `Content-Length`, so a cut upload looked whole;
            // the small-body and chunked paths already call that an error.
            Ok(0) if !buf.is_empty() => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the body ended before its Content-Length",
            )),
            Ok(len) => {
                self.size -= len;
                Ok(len)
            }
            err @ Err(_) => err,
        }
    }
}

impl<R> Drop for EqualReader<R>
where
    R: Read,
{
    /// wfhook patch: upstream allocated a buffer of the whole unread length
    /// here, so a huge `Content-Length` aborted the process. The remainder
    /// is now drained through a fixed buffer up to `max_drain` bytes and
    /// `drain_timeout`; past that the socket is shut down instead of read
    /// (the response was already sent). Each read waits at most what is left
    /// of `drain_timeout`, not the socket's `io_timeout`: a client that
    /// declares a body and sends nothing must not hold the worker that
    /// answered it; a completed drain gives the socket its timeout back.
    fn drop(&mut self) {
        let mut buf = [0u8; 8192];
        let mut budget = self.max_drain;
        let started = std::time::Instant::now();
        while self.size > 0 {
            let left = self.drain_timeout.saturating_sub(started.elapsed());
            if budget == 0 || left.is_zero() {
                break;
            }
            if let Some(c) = &self.closer {
                c.set_read_timeout(left);
            }
            let n = self.size.min(buf.len()).min(budget);
            match self.reader.read(&mut buf[..n]) {
                Err(_) | Ok(0) => break,
                Ok(k) => {
                    self.size -= k;
                    budget -= k;
                }
            }
        }
        if let Some(c) = &self.closer {
            if self.size > 0 {
                // Not drained: what follows on the socket is no request.
                let _ = c.shutdown(std::net::Shutdown::Both);
            } else {
                c.set_read_timeout(self.io_timeout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EqualReader;
    use std::io::Read;

    #[test]
    fn a_body_cut_short_is_an_error() {
        let mut source = std::io::Cursor::new(b"abc".to_vec());
        let mut reader =
            EqualReader::new(source.by_ref(), 5, None, usize::MAX, std::time::Duration::MAX, std::time::Duration::MAX);
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(out, b"abc");
    }

    #[test]
    fn test_limit() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let mut equal_reader = EqualReader::new(org_reader.by_ref(), 5, None, usize::MAX, std::time::Duration::MAX, std::time::Duration::MAX);

            let mut string = String::new();
            equal_reader.read_to_string(&mut string).unwrap();
            assert_eq!(string, "hello");
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }

    #[test]
    fn test_not_enough() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let mut equal_reader = EqualReader::new(org_reader.by_ref(), 5, None, usize::MAX, std::time::Duration::MAX, std::time::Duration::MAX);

            let mut vec = [0];
            equal_reader.read_exact(&mut vec).unwrap();
            assert_eq!(vec[0], b'h');
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }
}
