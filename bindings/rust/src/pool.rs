// SPDX-License-Identifier: MIT
//! The memory of spawned tasks' Rust cells: a thread-safe slab pool per
//! size class.
//!
//! A task costs a C task plus one small Rust cell, made on the spawning
//! thread and freed on whatever thread lets go of it last (a join handle,
//! an executor worker). The general allocator pays a header and a slow path
//! for each; here cells are carved from chunks with no header of their own.
//!
//! - Chunks are mapped from the system aligned to their size, so a slot
//!   finds its chunk by masking its address, and a chunk whose last slot is
//!   freed goes straight back to the system (one empty chunk per class is
//!   kept against churn). A cell that lives on thus pins one chunk, never
//!   the rest of a burst, wherever it sits.
//! - A class's first chunk is mapped alone, its pages touched only as
//!   slots are first used, so that a few tasks cost a few pages. Beyond it
//!   (a burst), chunks come eight at a time in a 2 MiB region that asks
//!   for transparent huge pages: one page fault where there would be 512,
//!   which is most of what a burst of fresh memory costs. Each chunk of a
//!   region is still unmapped on its own when it empties (the kernel then
//!   splits the huge page), and the region's unused chunks go as soon as
//!   the class shrinks.
//! - Each thread keeps a short free list per class, and a run of slots
//!   never used yet, so alloc and free are a few plain loads and stores;
//!   the class's chunks, behind a mutex, are visited once per batch
//!   (`REFILL` freed slots or `FRESH` new ones taken, `CACHE_MAX` given
//!   back). A thread's slots go back when the thread exits.
//! - fork() takes every class's lock first (as the C allocator does its
//!   own), so that a child never inherits one held by a thread that did
//!   not survive.
//!
//! Types too big or too aligned for the classes use the global allocator;
//! zero-sized ones need no memory.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::os::raw::{c_int, c_long, c_void};
use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

/// Bytes per chunk, a power of two; each is mapped aligned to it.
const CHUNK: usize = 256 * 1024;
/// Chunks mapped at once, as one region aligned to its size (2 MiB: a huge
/// page with 4 KiB pages), by a class that outgrows its first chunk.
const REGION_CHUNKS: usize = 8;
const REGION: usize = REGION_CHUNKS * CHUNK;
/// Bytes before a chunk's first slot (its header, rounded up): a slot is
/// thus aligned to the largest power of two dividing its size, up to this.
const HEADER: usize = 64;
/// The slot sizes, multiples of 8 (a free slot holds a link).
const SIZES: [usize; 10] = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256];
const CLASSES: usize = SIZES.len();
/// Slots a thread takes from a class at once when its list is empty.
const REFILL: usize = 32;
/// Never-used slots a thread takes at once instead, when the class has no
/// freed ones: a run of adjacent slots, handed out by bumping a pointer.
const FRESH: usize = 64;
/// The length at which a thread's list goes back to the class.
const CACHE_MAX: usize = 64;

/// The class of a type of this size and alignment, or `CLASSES` if none
/// fits (the global allocator serves it).
const fn class_of(size: usize, align: usize) -> usize {
    let mut class = 0;
    while class < CLASSES {
        // A slot at HEADER + k * SIZES[class] from an aligned chunk is
        // aligned to `align` exactly when both are multiples of it.
        if SIZES[class] >= size && SIZES[class] % align == 0 && HEADER % align == 0 {
            return class;
        }
        class += 1;
    }
    CLASSES
}

/// The class of `T`, computed at compile time.
struct ClassOf<T>(PhantomData<T>);

impl<T> ClassOf<T> {
    const CLASS: usize = class_of(size_of::<T>(), align_of::<T>());
}

/// Uninitialised memory for one `T`, aligned for it; aborts through
/// `handle_alloc_error` if the system has none, as `Box::new` does.
#[inline]
pub(crate) fn alloc<T>() -> NonNull<T> {
    if size_of::<T>() == 0 {
        return NonNull::dangling();
    }
    let class = ClassOf::<T>::CLASS;
    let slot = if class < CLASSES {
        alloc_slot(class)
    } else {
        // SAFETY: the layout's size is not zero.
        NonNull::new(unsafe { std::alloc::alloc(std::alloc::Layout::new::<T>()) })
    };
    match slot {
        Some(slot) => slot.cast(),
        None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<T>()),
    }
}

/// Give back the memory of a `T` (its value is not dropped).
///
/// # Safety
/// `ptr` came from `alloc::<T>()`, is not freed yet, and is not used again;
/// its value has been dropped or moved out.
#[inline]
pub(crate) unsafe fn free<T>(ptr: NonNull<T>) {
    if size_of::<T>() == 0 {
        return;
    }
    let class = ClassOf::<T>::CLASS;
    if class < CLASSES {
        // SAFETY: as the caller promises: a slot of this class, ours now.
        unsafe { free_slot(class, ptr.cast()) };
    } else {
        // SAFETY: allocated by the global allocator with this layout.
        unsafe { std::alloc::dealloc(ptr.as_ptr() as *mut u8, std::alloc::Layout::new::<T>()) };
    }
}

// ---------------------------------------------------------------------------
// Per-thread lists
// ---------------------------------------------------------------------------

/// A thread's free slots of one class.
struct Local {
    /// Freed slots, linked through their first word.
    head: Cell<*mut u8>,
    len: Cell<usize>,
    /// A run of never-used slots, adjacent in one chunk: the next one, and
    /// how many are left from it on.
    fresh: Cell<*mut u8>,
    fresh_left: Cell<usize>,
}

struct Cache {
    classes: [Local; CLASSES],
}

// Consts, not statics: each use is a fresh value (an array initialiser).
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_LOCAL: Local = Local {
    head: Cell::new(ptr::null_mut()),
    len: Cell::new(0),
    fresh: Cell::new(ptr::null_mut()),
    fresh_left: Cell::new(0),
};

impl Drop for Cache {
    fn drop(&mut self) {
        // The thread is exiting: its slots go back, so that their chunks
        // can be freed.
        for (class, local) in self.classes.iter().enumerate() {
            let size = SIZES[class];
            let mut head = local.head.replace(ptr::null_mut());
            local.len.set(0);
            // The unused run joins the list.
            let run = local.fresh.replace(ptr::null_mut());
            for i in 0..local.fresh_left.replace(0) {
                let slot = run.wrapping_add(i * size);
                // SAFETY: a slot of the run, ours, unused.
                unsafe { set_next(slot, head) };
                head = slot;
            }
            // SAFETY: the list holds free slots of this class, ours alone.
            unsafe { lock(class).give_list(size, head) };
        }
    }
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            classes: [EMPTY_LOCAL; CLASSES],
        }
    };
}

/// Read a free slot's link.
///
/// # Safety
/// `slot` is a free slot (aligned, at least 8 bytes) whose link was
/// written, and nobody else touches it.
#[inline]
unsafe fn next_of(slot: *mut u8) -> *mut u8 {
    // SAFETY: as the caller promises; slots are aligned to 8 at least.
    unsafe { ptr::read(slot as *const *mut u8) }
}

/// Write a free slot's link.
///
/// # Safety
/// As for `next_of`, the link not yet written needed.
#[inline]
unsafe fn set_next(slot: *mut u8, next: *mut u8) {
    // SAFETY: as the caller promises.
    unsafe { ptr::write(slot as *mut *mut u8, next) }
}

#[inline]
fn alloc_slot(class: usize) -> Option<NonNull<u8>> {
    let cached = CACHE.try_with(|cache| {
        let local = &cache.classes[class];
        if let Some(head) = NonNull::new(local.head.get()) {
            // SAFETY: the head of this thread's list: a free slot, ours.
            local.head.set(unsafe { next_of(head.as_ptr()) });
            local.len.set(local.len.get() - 1);
            return Some(head);
        }
        let left = local.fresh_left.get();
        if left > 0 {
            let slot = local.fresh.get();
            local.fresh_left.set(left - 1);
            // The next slot of the run: at most one past the chunk's last.
            local.fresh.set(slot.wrapping_add(SIZES[class]));
            return NonNull::new(slot);
        }
        refill(local, class)
    });
    // A thread whose list is gone (it is exiting) uses the class directly.
    cached.unwrap_or_else(|_| alloc_uncached(class))
}

/// Take a batch from the class into the thread's empty list (or run), and
/// hand out its first slot.
#[cold]
#[inline(never)]
fn refill(local: &Local, class: usize) -> Option<NonNull<u8>> {
    // Before any chunk exists (every chunk is taken through here or
    // alloc_uncached), and outside the lock.
    register_fork_handlers();
    let size = SIZES[class];
    let mut pool = lock(class);
    if let Some((run, len)) = pool.take_fresh(size, FRESH) {
        local.fresh.set(run.as_ptr().wrapping_add(size));
        local.fresh_left.set(len - 1);
        return Some(run);
    }
    let (head, len) = pool.take(size, REFILL);
    drop(pool);
    let head = NonNull::new(head)?;
    // SAFETY: the head of the list just taken: a free slot, ours.
    local.head.set(unsafe { next_of(head.as_ptr()) });
    local.len.set(len - 1);
    Some(head)
}

#[cold]
#[inline(never)]
fn alloc_uncached(class: usize) -> Option<NonNull<u8>> {
    register_fork_handlers();
    NonNull::new(lock(class).take(SIZES[class], 1).0)
}

/// # Safety
/// `slot` is a slot of `class`, handed out and now given back.
#[inline]
unsafe fn free_slot(class: usize, slot: NonNull<u8>) {
    let slot = slot.as_ptr();
    let cached = CACHE.try_with(|cache| {
        let local = &cache.classes[class];
        // SAFETY: the slot is ours (the caller's promise).
        unsafe { set_next(slot, local.head.get()) };
        let len = local.len.get() + 1;
        if len < CACHE_MAX {
            local.head.set(slot);
            local.len.set(len);
        } else {
            // SAFETY: the list, slot first, holds free slots of this class.
            unsafe { flush(local, class, slot) };
        }
    });
    if cached.is_err() {
        // SAFETY: as above, a list of one.
        unsafe { free_uncached(class, slot) };
    }
}

/// Give the thread's full list (`head` first) back to the class.
///
/// # Safety
/// The list holds free slots of `class`, ours alone.
#[cold]
#[inline(never)]
unsafe fn flush(local: &Local, class: usize, head: *mut u8) {
    local.head.set(ptr::null_mut());
    local.len.set(0);
    // SAFETY: as the caller promises.
    unsafe { lock(class).give_list(SIZES[class], head) };
}

/// # Safety
/// `slot` is a slot of `class`, handed out and now given back.
#[cold]
#[inline(never)]
unsafe fn free_uncached(class: usize, slot: *mut u8) {
    // SAFETY: as the caller promises: a list of one.
    unsafe {
        set_next(slot, ptr::null_mut());
        lock(class).give_list(SIZES[class], slot);
    }
}

// ---------------------------------------------------------------------------
// Classes and chunks
// ---------------------------------------------------------------------------

/// The header at the start of every chunk: touched only under its class's
/// lock.
#[repr(C)]
struct Chunk {
    /// Links on the class's list of chunks with a free slot.
    prev: *mut Chunk,
    next: *mut Chunk,
    /// Freed slots, linked through their first word.
    free: *mut u8,
    /// Slots handed out (to threads' lists too).
    live: usize,
    /// Slots [0, carved) have been handed out at least once; the rest of
    /// the chunk is untouched, so costs no resident memory.
    carved: usize,
}

const _: () = assert!(size_of::<Chunk>() <= HEADER && align_of::<Chunk>() <= HEADER);
const _: () = assert!(CHUNK.is_power_of_two() && REGION.is_power_of_two() && HEADER % 8 == 0);

/// The chunks of one class.
struct Pool {
    /// Chunks with a free or uncarved slot; alloc takes the first.
    partial: *mut Chunk,
    /// One empty chunk kept back, or null.
    spare: *mut Chunk,
    /// Chunks in use or spare (not counting `region_left`).
    chunks: usize,
    /// The next unused chunk of the last region mapped, and how many are
    /// left from it on (mapped, never handed out).
    region: *mut u8,
    region_left: usize,
}

// SAFETY: the chunks are the pool's own memory, touched only by whoever
// holds the pool (behind its mutex).
unsafe impl Send for Pool {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_POOL: Mutex<Pool> = Mutex::new(Pool::new());

static POOLS: [Mutex<Pool>; CLASSES] = [EMPTY_POOL; CLASSES];

/// The class's pool. Nothing panics while holding it, but a poisoned lock
/// would still guard consistent lists.
fn lock(class: usize) -> MutexGuard<'static, Pool> {
    POOLS[class].lock().unwrap_or_else(PoisonError::into_inner)
}

// fork(): the forking thread holds every class's lock across the fork
// (always taken in class order; nothing else holds two), so no class is
// mid-change in the child, and both processes then let go.

#[allow(clippy::declare_interior_mutable_const)]
const NO_GUARD: Option<MutexGuard<'static, Pool>> = None;

thread_local! {
    /// The locks the forking thread holds across fork().
    static FORK_GUARDS: RefCell<[Option<MutexGuard<'static, Pool>>; CLASSES]> =
        const { RefCell::new([NO_GUARD; CLASSES]) };
}

extern "C" fn fork_prepare() {
    // A thread whose thread-locals are gone (exiting) forks without: the
    // handlers after fork do nothing either.
    let _ = FORK_GUARDS.try_with(|guards| {
        for (class, guard) in guards.borrow_mut().iter_mut().enumerate() {
            *guard = Some(lock(class));
        }
    });
}

extern "C" fn fork_release() {
    let _ = FORK_GUARDS.try_with(|guards| {
        for guard in guards.borrow_mut().iter_mut() {
            *guard = None;
        }
    });
}

fn register_fork_handlers() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: the handlers are plain functions that live as long as
        // the code (glibc drops them with the object that registered
        // them). Should registering fail (no memory), fork() stays unsafe
        // only while a class's lock is held.
        unsafe { pthread_atfork(Some(fork_prepare), Some(fork_release), Some(fork_release)) };
    });
}

/// The chunk holding `slot`.
///
/// # Safety
/// `slot` points into a chunk.
#[inline]
unsafe fn chunk_of(slot: *mut u8) -> *mut Chunk {
    // Derived from the slot pointer, so it keeps the mapping's provenance.
    // SAFETY: the chunk starts within the same mapping, below the slot.
    unsafe { slot.sub(slot as usize % CHUNK) as *mut Chunk }
}

fn per_chunk(size: usize) -> usize {
    (CHUNK - HEADER) / size
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            partial: ptr::null_mut(),
            spare: ptr::null_mut(),
            chunks: 0,
            region: ptr::null_mut(),
            region_left: 0,
        }
    }

    /// Hand out up to `n` slots of `size` bytes as a list linked through
    /// their first word: (head, length). Fewer (none: a null head) only if
    /// the system has no memory for a chunk. The list keeps the order the
    /// slots were taken in (fresh ones by rising address), so that tasks
    /// spawned in a row, and polled in that order, lie in a row: the
    /// hardware prefetches a rising stream best.
    fn take(&mut self, size: usize, n: usize) -> (*mut u8, usize) {
        let per_chunk = per_chunk(size);
        let mut head = ptr::null_mut();
        let mut tail: *mut u8 = ptr::null_mut();
        let mut len = 0;
        while len < n {
            let chunk = match NonNull::new(self.partial) {
                Some(chunk) => chunk.as_ptr(),
                None => match self.empty_chunk() {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            // SAFETY: a chunk of this pool on the partial list (so with a
            // free or uncarved slot: live = carved - freed < per_chunk),
            // ours under the lock; slots lie within it.
            unsafe {
                let base = (chunk as *mut u8).add(HEADER);
                let (mut free, mut carved, mut live) =
                    ((*chunk).free, (*chunk).carved, (*chunk).live);
                // As many as wanted from this chunk: freed slots first,
                // then fresh ones.
                while len < n && live < per_chunk {
                    let slot = if !free.is_null() {
                        let slot = free;
                        free = next_of(slot);
                        slot
                    } else {
                        carved += 1;
                        base.add((carved - 1) * size)
                    };
                    live += 1;
                    if tail.is_null() {
                        head = slot;
                    } else {
                        set_next(tail, slot);
                    }
                    tail = slot;
                    len += 1;
                }
                (*chunk).free = free;
                (*chunk).carved = carved;
                (*chunk).live = live;
                if live == per_chunk {
                    self.unlink(chunk);
                }
            }
        }
        if !tail.is_null() {
            // SAFETY: the last slot taken, ours.
            unsafe { set_next(tail, ptr::null_mut()) };
        }
        (head, len)
    }

    /// Hand out a run of up to `n` adjacent never-used slots of `size`
    /// bytes, (first, length), if the chunk alloc would take from has no
    /// freed slot (freed memory is reused first).
    fn take_fresh(&mut self, size: usize, n: usize) -> Option<(NonNull<u8>, usize)> {
        let per_chunk = per_chunk(size);
        let chunk = match NonNull::new(self.partial) {
            Some(chunk) => chunk.as_ptr(),
            None => self.empty_chunk()?,
        };
        // SAFETY: a chunk of this pool on the partial list, ours under the
        // lock; with no freed slot, live = carved < per_chunk, and the run
        // lies within the chunk.
        unsafe {
            if !(*chunk).free.is_null() {
                return None;
            }
            let carved = (*chunk).carved;
            let len = n.min(per_chunk - carved);
            let run = (chunk as *mut u8).add(HEADER + carved * size);
            (*chunk).carved = carved + len;
            (*chunk).live += len;
            if (*chunk).live == per_chunk {
                self.unlink(chunk);
            }
            Some((NonNull::new_unchecked(run), len))
        }
    }

    /// The spare or a new chunk, put on the partial list.
    fn empty_chunk(&mut self) -> Option<*mut Chunk> {
        let chunk = if self.spare.is_null() {
            let memory = if self.region_left > 0 {
                let memory = self.region;
                self.region_left -= 1;
                // SAFETY: at most one past the region's end.
                self.region = unsafe { memory.add(CHUNK) };
                memory
            } else if self.chunks == 0 {
                map_aligned(CHUNK, false)?
            } else {
                let region = map_aligned(REGION, true)?;
                self.region_left = REGION_CHUNKS - 1;
                // SAFETY: within the region.
                self.region = unsafe { region.add(CHUNK) };
                region
            };
            self.chunks += 1;
            // SAFETY: CHUNK fresh bytes aligned to CHUNK, ours.
            unsafe { new_chunk(memory) }
        } else {
            std::mem::replace(&mut self.spare, ptr::null_mut())
        };
        // SAFETY: an empty chunk of ours, on no list.
        unsafe { self.push(chunk) };
        Some(chunk)
    }

    /// Unmap the unused rest of the last region.
    fn release_region(&mut self) {
        if self.region_left > 0 {
            // SAFETY: mapped by us and never handed out.
            unsafe { unmap(self.region, self.region_left * CHUNK) };
            self.region_left = 0;
            self.region = ptr::null_mut();
        }
    }

    /// Take back a list of free slots of `size` bytes (linked through their
    /// first word, null-terminated), freeing chunks left empty.
    ///
    /// # Safety
    /// Every slot on the list was handed out by this pool and is not in use.
    unsafe fn give_list(&mut self, size: usize, mut slot: *mut u8) {
        let per_chunk = per_chunk(size);
        while !slot.is_null() {
            // SAFETY: as the caller promises; the chunk is alive while it
            // has a live slot (this one), and ours under the lock.
            unsafe {
                let next = next_of(slot);
                let chunk = chunk_of(slot);
                set_next(slot, (*chunk).free);
                (*chunk).free = slot;
                if (*chunk).live == per_chunk {
                    // First to allocate from: a nearly full chunk fills up
                    // again while the emptier ones keep emptying.
                    self.push(chunk);
                }
                (*chunk).live -= 1;
                if (*chunk).live == 0 {
                    self.unlink(chunk);
                    if self.spare.is_null() {
                        self.spare = chunk;
                    } else {
                        // Shrinking: what is still mapped ahead goes too.
                        self.chunks -= 1;
                        unmap(chunk as *mut u8, CHUNK);
                        self.release_region();
                    }
                }
                slot = next;
            }
        }
    }

    /// # Safety
    /// `chunk` is ours and on no list.
    unsafe fn push(&mut self, chunk: *mut Chunk) {
        // SAFETY: as the caller promises; the list's chunks are ours.
        unsafe {
            (*chunk).prev = ptr::null_mut();
            (*chunk).next = self.partial;
            if !self.partial.is_null() {
                (*self.partial).prev = chunk;
            }
        }
        self.partial = chunk;
    }

    /// # Safety
    /// `chunk` is on the partial list.
    unsafe fn unlink(&mut self, chunk: *mut Chunk) {
        // SAFETY: as the caller promises; its neighbours are ours too.
        unsafe {
            let (prev, next) = ((*chunk).prev, (*chunk).next);
            if prev.is_null() {
                self.partial = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mappings of our own, so that freeing a chunk gives its memory back to the
// system at once (a general allocator's heap keeps what lies below a live
// block).
// ---------------------------------------------------------------------------

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_PRIVATE: c_int = 0x02;
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const MAP_ANONYMOUS: c_int = 0x800;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const MAP_ANONYMOUS: c_int = 0x20;
const MADV_HUGEPAGE: c_int = 14;

extern "C" {
    // From the C library std already links; declared here because the
    // crate has no dependencies.
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> c_int;
}

/// `size` bytes (a power of two) aligned to `size`, or None if the system
/// has none; asking for transparent huge pages if `huge`.
fn map_aligned(size: usize, huge: bool) -> Option<*mut u8> {
    // Twice the size, then the ends cut off, so that what is left is
    // aligned to the size.
    let len = 2 * size;
    // SAFETY: a fresh anonymous private mapping.
    let raw = unsafe {
        mmap(
            ptr::null_mut(),
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw as usize == usize::MAX {
        return None;
    }
    let raw = raw as *mut u8;
    let lead = (size - raw as usize % size) % size;
    // SAFETY: lead < size, so [lead, lead + size) lies within the mapping;
    // the cut ends are never used.
    unsafe {
        let memory = raw.add(lead);
        unmap(raw, lead);
        unmap(memory.add(size), len - lead - size);
        if huge {
            // Only advice: without huge pages the memory is the same.
            madvise(memory as *mut c_void, size, MADV_HUGEPAGE);
        }
        Some(memory)
    }
}

/// Write an empty chunk header at `memory`.
///
/// # Safety
/// `memory` is CHUNK bytes of ours, aligned to CHUNK, not in use.
unsafe fn new_chunk(memory: *mut u8) -> *mut Chunk {
    let chunk = memory as *mut Chunk;
    // SAFETY: as the caller promises.
    unsafe {
        ptr::write(
            chunk,
            Chunk {
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                free: ptr::null_mut(),
                live: 0,
                carved: 0,
            },
        )
    };
    chunk
}

/// Unmap `len` bytes at `memory` (nothing if `len` is 0).
///
/// # Safety
/// The range was mapped by `map_aligned`, and nothing refers into it any
/// more.
unsafe fn unmap(memory: *mut u8, len: usize) {
    if len > 0 {
        // SAFETY: as the caller promises. Should the system refuse, the
        // range stays mapped (leaked), which is all that can be done.
        unsafe { munmap(memory as *mut c_void, len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_fit_size_and_alignment() {
        assert_eq!(class_of(1, 1), 0);
        assert_eq!(SIZES[class_of(24, 8)], 24);
        assert_eq!(SIZES[class_of(24, 16)], 32);
        assert_eq!(SIZES[class_of(72, 8)], 96);
        assert_eq!(SIZES[class_of(100, 64)], 128);
        assert_eq!(class_of(257, 8), CLASSES);
        assert_eq!(class_of(128, 128), CLASSES);
        for (class, &size) in SIZES.iter().enumerate() {
            assert_eq!(size % 8, 0);
            assert_eq!(class_of(size, 8), class);
        }
    }

    /// A pool of its own (not the shared ones, which other tests use at
    /// the same time): chunks are mapped as needed and given back when
    /// empty, but for one spare.
    #[test]
    fn a_pool_gives_empty_chunks_back() {
        let size = 24;
        let mut pool = Pool::new();
        let n = 5 * per_chunk(size) + 7;
        let mut slots = Vec::with_capacity(n);
        while slots.len() < n {
            let (mut head, len) = pool.take(size, REFILL.min(n - slots.len()));
            assert!(len > 0);
            while !head.is_null() {
                slots.push(head);
                // SAFETY: a free slot just handed out, linked by take.
                head = unsafe { next_of(head) };
            }
        }
        // The first chunk alone, then five of a region, three left in it.
        assert_eq!((pool.chunks, pool.region_left), (6, REGION_CHUNKS - 5));
        // Distinct, aligned, each within its chunk's slot area.
        let mut sorted: Vec<usize> = slots.iter().map(|&slot| slot as usize).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), n);
        for &slot in &slots {
            assert_eq!(slot as usize % 8, 0);
            let offset = slot as usize % CHUNK;
            assert!(offset >= HEADER && (offset - HEADER) % size == 0);
            assert!(offset + size <= CHUNK);
            // Every byte is usable.
            // SAFETY: a slot handed out to us.
            unsafe { ptr::write_bytes(slot, 0xa5, size) };
        }
        // Keep one from the middle; give back the others one at a time.
        let keeper = slots.swap_remove(n / 2);
        for slot in slots.drain(..) {
            // SAFETY: handed out by this pool, unused.
            unsafe {
                set_next(slot, ptr::null_mut());
                pool.give_list(size, slot);
            }
        }
        // The keeper's chunk and the spare; the region's rest is unmapped.
        assert_eq!((pool.chunks, pool.region_left), (2, 0));
        // SAFETY: as above.
        unsafe {
            set_next(keeper, ptr::null_mut());
            pool.give_list(size, keeper);
        }
        assert_eq!(pool.chunks, 1);
        // The spare serves again before anything new is mapped.
        let (head, len) = pool.take(size, 3);
        assert_eq!((len, pool.chunks), (3, 1));
        // SAFETY: the list just handed out.
        unsafe { pool.give_list(size, head) };
        let spare = pool.spare;
        assert!(!spare.is_null());
        // SAFETY: the test's pool is dropped here; nothing refers into it.
        unsafe { unmap(spare as *mut u8, CHUNK) };
    }

    /// Runs of never-used slots are cut after the freed slots are reused,
    /// and count as handed out until given back.
    #[test]
    fn a_fresh_run_follows_the_freed_slots() {
        let size = 24;
        let mut pool = Pool::new();
        let (run, len) = pool.take_fresh(size, 10).unwrap();
        assert_eq!((len, pool.chunks), (10, 1));
        assert_eq!(run.as_ptr() as usize % CHUNK, HEADER);
        let slots: Vec<*mut u8> = (0..10)
            .map(|i| run.as_ptr().wrapping_add(i * size))
            .collect();
        // Three come back: they are handed out again before a new run.
        for &slot in &slots[..3] {
            // SAFETY: slots of the run, unused.
            unsafe {
                set_next(slot, ptr::null_mut());
                pool.give_list(size, slot);
            }
        }
        assert!(pool.take_fresh(size, 10).is_none());
        let (head, len) = pool.take(size, 3);
        assert_eq!(len, 3);
        let (run, len) = pool.take_fresh(size, 10).unwrap();
        assert_eq!(len, 10);
        assert_eq!(run.as_ptr() as usize % CHUNK, HEADER + 10 * size);
        // Everything back: the chunk is empty, kept as the spare.
        // SAFETY: every slot handed out above, unused.
        unsafe {
            pool.give_list(size, head);
            for &slot in &slots[3..] {
                set_next(slot, ptr::null_mut());
                pool.give_list(size, slot);
            }
            for i in 0..10 {
                let slot = run.as_ptr().add(i * size);
                set_next(slot, ptr::null_mut());
                pool.give_list(size, slot);
            }
        }
        assert!(pool.partial.is_null());
        assert_eq!(pool.chunks, 1);
        // SAFETY: the test's pool is dropped here; nothing refers into it.
        unsafe { unmap(pool.spare as *mut u8, CHUNK) };
    }

    #[repr(align(16))]
    struct Aligned([u8; 40]);

    /// Cells made on some threads and freed on others, of several classes:
    /// none is handed out twice, and each keeps what was written into it.
    #[test]
    fn threads_alloc_and_free_each_others_cells() {
        use std::sync::mpsc::channel;
        struct Sent(NonNull<[u64; 3]>, NonNull<Aligned>, u64);
        // SAFETY: the cells are handed over, not shared.
        unsafe impl Send for Sent {}
        let (sender, receiver) = channel::<Sent>();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        let mut threads = Vec::new();
        for t in 0..4u64 {
            let sender = sender.clone();
            threads.push(std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    let value = t << 32 | i;
                    let a = alloc::<[u64; 3]>();
                    let b = alloc::<Aligned>();
                    assert_eq!(b.as_ptr() as usize % 16, 0);
                    // SAFETY: fresh memory for one value each.
                    unsafe {
                        a.as_ptr().write([value; 3]);
                        b.as_ptr().write(Aligned([value as u8; 40]));
                    }
                    sender.send(Sent(a, b, value)).unwrap();
                }
            }));
        }
        drop(sender);
        for _ in 0..2 {
            let receiver = std::sync::Arc::clone(&receiver);
            threads.push(std::thread::spawn(move || loop {
                let sent = receiver.lock().unwrap().recv();
                let Sent(a, b, value) = match sent {
                    Ok(sent) => sent,
                    Err(_) => break,
                };
                // SAFETY: the cells were written and handed to us.
                unsafe {
                    assert_eq!(*a.as_ptr(), [value; 3]);
                    assert_eq!((*b.as_ptr()).0, [value as u8; 40]);
                    free(a);
                    free(b);
                }
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
    }

    /// fork() while another thread holds a class's lock: the child can
    /// still take slots of that class (fork waits for the lock, rather
    /// than the child inheriting it held by a thread it does not have).
    #[test]
    fn a_child_of_fork_can_allocate_while_a_thread_held_the_lock() {
        extern "C" {
            fn fork() -> c_int;
            fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
            fn kill(pid: c_int, signal: c_int) -> c_int;
            fn _exit(status: c_int) -> !;
        }
        const WNOHANG: c_int = 1;
        const SIGKILL: c_int = 9;
        // A class no other test uses, whose list this thread has never
        // filled: the child must take the class's lock.
        struct Odd(#[allow(dead_code)] [u64; 32]);
        let class = ClassOf::<Odd>::CLASS;
        assert_eq!(SIZES[class], 256);
        // The handlers are registered with the first chunk of any class.
        register_fork_handlers();
        let (locked, holding) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let guard = lock(class);
            locked.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(guard);
        });
        holding.recv().unwrap();
        // SAFETY: the child only allocates, frees and exits.
        let pid = unsafe { fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let cell = alloc::<Odd>();
            // SAFETY: just allocated, never written.
            unsafe {
                free(cell);
                _exit(0)
            };
        }
        holder.join().unwrap();
        let mut status = -1;
        let started = std::time::Instant::now();
        loop {
            // SAFETY: our child; status is a valid place.
            let done = unsafe { waitpid(pid, &mut status, WNOHANG) };
            if done == pid {
                break;
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                // SAFETY: our child, stuck.
                unsafe {
                    kill(pid, SIGKILL);
                    waitpid(pid, &mut status, 0);
                }
                panic!("the child of fork() hung on a pool lock");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(status, 0, "the child of fork() failed");
    }

    /// A burst of cells on a thread that then exits, one cell kept: the
    /// burst's chunks are unmapped (the keeper's chunk and spares remain).
    #[test]
    fn a_burst_is_given_back_but_for_the_keeper_s_chunk() {
        #[repr(align(64))]
        struct Big(#[allow(dead_code)] [u8; 192]); // a class no other test uses
        let class = ClassOf::<Big>::CLASS;
        let before = lock(class).chunks;
        struct Keeper(NonNull<Big>);
        // SAFETY: the cell is handed over, not shared.
        unsafe impl Send for Keeper {}
        let keeper = std::thread::spawn(move || {
            let cells: Vec<NonNull<Big>> = (0..100_000).map(|_| alloc::<Big>()).collect();
            assert!(lock(class).chunks >= 100_000 / per_chunk(192));
            let keeper = cells[50_000];
            for (i, &cell) in cells.iter().enumerate() {
                if i != 50_000 {
                    // SAFETY: allocated above, never written.
                    unsafe { free(cell) };
                }
            }
            Keeper(keeper)
        })
        .join()
        .unwrap();
        // The thread's list went back when it exited.
        assert!(
            lock(class).chunks <= before + 2,
            "chunks: {}",
            lock(class).chunks
        );
        // SAFETY: the keeper, allocated on the thread and not freed.
        unsafe { free(keeper.0) };
    }
}
