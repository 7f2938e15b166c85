/* How a debugging session ended: shared by the session (gdb_session.h) and
 * the socket server (gdb_server.h) without either including the other. */
#ifndef UKVM_GDB_END_H
#define UKVM_GDB_END_H

/* How a debugging session ended. */
enum gdb_end {
    GDB_END_NONE = 0,       /* (internal: the session goes on) */
    GDB_END_DETACHED,       /* 'D': target->ops->detach() was called, OK sent */
    GDB_END_KILLED,         /* 'k' or vKill: target->ops->kill() was called */
    GDB_END_DISCONNECTED,   /* the client closed the connection (or a read or
                               write on it failed) without D or k */
    GDB_END_EXITED,         /* the guest exited: W<status> was sent */
    GDB_END_ERROR,          /* the server could not run (accept, thread or
                               pipe creation failed); see errno */
};

#endif
