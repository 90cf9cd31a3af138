//! Every file a glob pattern matches, read in name order; when following, new matches are
//! picked up as they appear.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::follow::FollowSource;
use crate::once::{file_once, gzip_once};
use crate::{
    FileIdentity, LineBatch, LineSource, Position, ReadStatus, TailError, TailOptions,
    is_compressed,
};

/// The member being read.
enum Member {
    Once(Box<dyn LineSource>),
    Follow(FollowSource),
}

impl Member {
    fn source(&mut self) -> &mut dyn LineSource {
        match self {
            Member::Once(source) => source.as_mut(),
            Member::Follow(source) => source,
        }
    }

    fn position(&self) -> Position {
        match self {
            Member::Once(source) => source.position(),
            Member::Follow(source) => source.position(),
        }
    }
}

/// What tells a file already taken into account from a new one: its identity, or its path
/// where the platform has no identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    Identity(FileIdentity),
    Path(PathBuf),
}

fn key_of(path: &Path) -> Option<FileKey> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    Some(match FileIdentity::of(&metadata) {
        Some(identity) => FileKey::Identity(identity),
        None => FileKey::Path(path.to_path_buf()),
    })
}

/// Files matching a glob pattern, read one after the other in name order.
pub(crate) struct GlobSource {
    pattern: String,
    options: TailOptions,
    /// Members not opened yet, in name order.
    queue: VecDeque<PathBuf>,
    current: Option<Member>,
    /// Path of the current member: a new file there is its follower's business (rotation),
    /// not a new member.
    current_path: Option<PathBuf>,
    /// The member that gets `start_offset` (and `start_identity`), until it is opened.
    resume_in: Option<PathBuf>,
    /// Files read, being read, queued, or skipped as read before the resume point; a rename
    /// of the followed file to a name that also matches must not be read a second time.
    known: HashSet<FileKey>,
    idle_polls: u32,
    warned_compressed: HashSet<PathBuf>,
    warned_no_match: bool,
    last_position: Position,
}

impl GlobSource {
    pub(crate) fn new(pattern: &str, options: &TailOptions) -> Result<Self, TailError> {
        glob::Pattern::new(pattern).map_err(|source| TailError::Pattern {
            pattern: pattern.to_string(),
            source,
        })?;
        let mut source = Self {
            pattern: pattern.to_string(),
            options: options.clone(),
            queue: VecDeque::new(),
            current: None,
            current_path: None,
            resume_in: None,
            known: HashSet::new(),
            idle_polls: 0,
            warned_compressed: HashSet::new(),
            warned_no_match: false,
            last_position: Position {
                path: Arc::from(pattern),
                identity: None,
                offset: 0,
            },
        };
        let matches = source.expand()?;
        if matches.is_empty() && !options.follow {
            return Err(TailError::NoMatch {
                pattern: pattern.to_string(),
            });
        }
        for path in matches {
            let Some(key) = key_of(&path) else { continue };
            source.known.insert(key);
            let before_resume_point = options
                .start_path
                .as_ref()
                .is_some_and(|start| path < *start);
            if !before_resume_point {
                source.queue.push_back(path);
            }
        }
        source.resume_in = match &options.start_path {
            Some(start) => source
                .queue
                .front()
                .filter(|first| *first == start)
                .cloned(),
            None => source.queue.front().cloned(),
        };
        if let Some(first) = source.queue.front() {
            source.last_position = Position {
                path: Arc::from(first.to_string_lossy().as_ref()),
                identity: None,
                offset: 0,
            };
            if source.resume_in.is_some() {
                source.last_position.offset = options.start_offset;
                source.last_position.identity = options.start_identity;
            }
        }
        Ok(source)
    }

    /// Current matches in name order: regular files only and, when following, no gzip
    /// files (finished archives, typically compressed copies of rotated files already read).
    fn expand(&mut self) -> Result<Vec<PathBuf>, TailError> {
        let paths = glob::glob(&self.pattern).map_err(|source| TailError::Pattern {
            pattern: self.pattern.clone(),
            source,
        })?;
        let mut matches = Vec::new();
        for entry in paths {
            let path = match entry {
                Ok(path) => path,
                Err(error) => {
                    tracing::warn!(pattern = %self.pattern, %error, "cannot look at a glob match; skipping it");
                    continue;
                }
            };
            if !path.is_file() {
                continue;
            }
            if self.options.follow && is_compressed(&path) {
                if self.warned_compressed.insert(path.clone()) {
                    tracing::warn!(
                        pattern = %self.pattern,
                        path = %path.display(),
                        "compressed glob match skipped while following: it is a finished archive"
                    );
                }
                continue;
            }
            matches.push(path);
        }
        matches.sort();
        Ok(matches)
    }

    /// Expands the pattern again and queues matches that are new files.
    fn rescan(&mut self) -> Result<(), TailError> {
        let matches = self.expand()?;
        let mut present = HashSet::new();
        let mut fresh = Vec::new();
        for path in matches {
            let Some(key) = key_of(&path) else { continue };
            present.insert(key.clone());
            if self.current_path.as_ref() == Some(&path) {
                continue;
            }
            if !self.known.contains(&key) {
                self.known.insert(key);
                fresh.push(path);
            }
        }
        // Forget files that left the pattern, so that a new file reusing a freed inode
        // number later is not mistaken for one already read.
        let current = match &self.current {
            Some(Member::Follow(source)) => source.identity().map(FileKey::Identity),
            _ => None,
        };
        self.known
            .retain(|key| present.contains(key) || Some(key) == current.as_ref());
        if fresh.is_empty() {
            return Ok(());
        }
        self.queue.extend(fresh);
        self.queue.make_contiguous().sort();
        if let Some(Member::Follow(source)) = &mut self.current {
            source.retire();
        }
        Ok(())
    }

    fn open_member(&mut self, path: &Path) -> Result<Member, TailError> {
        let (offset, identity) = if self.resume_in.as_deref() == Some(path) {
            self.resume_in = None;
            (self.options.start_offset, self.options.start_identity)
        } else {
            (0, None)
        };
        if self.options.follow {
            let mut source = FollowSource::new(path, offset, identity, &self.options)?;
            if !self.queue.is_empty() {
                source.retire();
            }
            Ok(Member::Follow(source))
        } else if is_compressed(path) {
            Ok(Member::Once(gzip_once(path, offset, &self.options)?))
        } else {
            Ok(Member::Once(file_once(path, offset, &self.options)?))
        }
    }

    /// Counts an idle poll and expands the pattern again every `glob_rescan_polls` of them.
    fn idle_poll(&mut self) -> Result<(), TailError> {
        self.idle_polls += 1;
        if self.idle_polls >= self.options.glob_rescan_polls.max(1) {
            self.idle_polls = 0;
            self.rescan()?;
        }
        Ok(())
    }
}

impl LineSource for GlobSource {
    fn read_batch(
        &mut self,
        max_lines: usize,
        batch: &mut LineBatch,
    ) -> Result<ReadStatus, TailError> {
        batch.clear();
        loop {
            let Some(member) = self.current.as_mut() else {
                let Some(path) = self.queue.pop_front() else {
                    if !self.options.follow {
                        return Ok(ReadStatus::Finished);
                    }
                    if !self.warned_no_match && self.known.is_empty() {
                        self.warned_no_match = true;
                        tracing::warn!(pattern = %self.pattern, "glob matches no file yet; watching for one to appear");
                    }
                    self.idle_poll()?;
                    if self.queue.is_empty() {
                        return Ok(ReadStatus::Idle);
                    }
                    continue;
                };
                let member = self.open_member(&path)?;
                self.current = Some(member);
                self.current_path = Some(path);
                continue;
            };
            let status = match member.source().read_batch(max_lines, batch) {
                Ok(status) => status,
                Err(error) => {
                    if matches!(member, Member::Once(_)) {
                        // A member read once is not retried: the next call goes on with
                        // the next member.
                        self.last_position = member.position();
                        self.current = None;
                        self.current_path = None;
                    }
                    return Err(error);
                }
            };
            match status {
                ReadStatus::Finished => {
                    self.last_position = member.position();
                    self.current = None;
                    self.current_path = None;
                }
                ReadStatus::InputStarted { ref input, .. } => {
                    if let Some(identity) = input.identity {
                        self.known.insert(FileKey::Identity(identity));
                    }
                    return Ok(status);
                }
                ReadStatus::Idle => {
                    self.idle_poll()?;
                    return Ok(ReadStatus::Idle);
                }
                ReadStatus::Lines | ReadStatus::InputEnded { .. } => return Ok(status),
            }
        }
    }

    fn position(&self) -> Position {
        match &self.current {
            Some(member) => member.position(),
            None => self.last_position.clone(),
        }
    }
}
